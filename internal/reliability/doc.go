// Package reliability holds the tests that hold Firebreak to its delivery promises under
// failure: faults injected into every AWS call, the server killed at random moments while
// events arrive, and several replicas sharing one PostgreSQL database. Each test checks the
// end state, not the path to it: every incident contained exactly once, no event lost, no
// snapshot or security group made twice, and an intact audit chain.
//
// By default each test runs at a size that finishes within CI's budget on a two-core
// machine. The full sizes run with
//
//	FIREBREAK_RELIABILITY=full go test -run . -timeout 60m -v ./internal/reliability
//
// The crash and scale-out tests build the firebreak command and run moto (see
// internal/cloud/moto) as separate processes; scale-out also needs PostgreSQL
// (storetest.PostgresURL, or FIREBREAK_TEST_POSTGRES; "off" skips it). FIREBREAK_RELIABILITY_SEED
// replays a run's random choices (kill moments, delivery order) from its logged seed.
package reliability
