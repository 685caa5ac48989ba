package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Replica is one engine sharing a PostgreSQL store, as the replicas table records it. Its
// times are the database's, so that replicas whose clocks disagree still agree on who is
// gone.
type Replica struct {
	// ID is the replica's job queue client id: the name River records in a job's
	// attempted_by when the replica takes it.
	ID       string
	Host     string
	PID      int
	Started  time.Time
	LastSeen time.Time
	// Stopped is when the replica stopped cleanly; zero while it runs (or if it died).
	Stopped time.Time
}

// errReplicasSQLite says replicas are a PostgreSQL matter: a SQLite file has one server.
var errReplicasSQLite = errors.New("replicas: only a PostgreSQL store is shared by replicas")

// The replica statements run outside the write lock: a heartbeat that queued behind a
// burst of writes could arrive too late and have a live replica taken for gone.

// RegisterReplica records r as started and seen now. Register before taking any job, so
// that every job a replica runs names a registered replica.
func (s *Store) RegisterReplica(ctx context.Context, r Replica) error {
	if s.dialect != Postgres {
		return errReplicasSQLite
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO replicas (id, host, pid, started_at, last_seen)
		VALUES ($1, $2, $3, now(), now())
		ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid,
			last_seen = EXCLUDED.last_seen, stopped_at = NULL`, r.ID, r.Host, r.PID)
	if err != nil {
		return fmt.Errorf("register replica %s: %w", r.ID, err)
	}
	return nil
}

// HeartbeatReplica records the replica id as seen now. It reports false when there is no
// such running replica: it stopped, or was pruned after a long silence. A replica beats
// through a Heartbeat, on a connection of its own; this is for one-off beats.
func (s *Store) HeartbeatReplica(ctx context.Context, id string) (bool, error) {
	if s.dialect != Postgres {
		return false, errReplicasSQLite
	}
	tag, err := s.pool.Exec(ctx, heartbeatSQL, id)
	if err != nil {
		return false, fmt.Errorf("heartbeat of replica %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

const heartbeatSQL = `UPDATE replicas SET last_seen = now() WHERE id = $1 AND stopped_at IS NULL`

// Heartbeat beats for one replica on a connection outside the store's pool. The pool's
// connections can all be taken by writers queued for the write lock, and a beat that waited
// for one could land too late and have a live replica taken for gone. It is not safe for
// concurrent use.
type Heartbeat struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
	id   string
}

// NewHeartbeat prepares heartbeats for the replica id; the connection is made at the first
// beat, and again after one fails.
func (s *Store) NewHeartbeat(id string) (*Heartbeat, error) {
	if s.dialect != Postgres {
		return nil, errReplicasSQLite
	}
	return &Heartbeat{cfg: s.pool.Config().ConnConfig.Copy(), id: id}, nil
}

// Beat records the replica as seen now, as HeartbeatReplica does.
func (h *Heartbeat) Beat(ctx context.Context) (bool, error) {
	if h.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, h.cfg)
		if err != nil {
			return false, fmt.Errorf("heartbeat of replica %s: connect: %w", h.id, err)
		}
		h.conn = conn
	}
	tag, err := h.conn.Exec(ctx, heartbeatSQL, h.id)
	if err != nil {
		// A fresh connection next time: this one may be broken.
		h.Close(ctx)
		return false, fmt.Errorf("heartbeat of replica %s: %w", h.id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Close closes the heartbeat's connection.
func (h *Heartbeat) Close(ctx context.Context) {
	if h.conn != nil {
		// Bounded: the connection being closed may be the one that hung.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = h.conn.Close(cctx)
		h.conn = nil
	}
}

// StopReplica records the replica id as stopped, so that any job it leaves running is
// taken over at the next check rather than after the replica timeout.
func (s *Store) StopReplica(ctx context.Context, id string) error {
	if s.dialect != Postgres {
		return errReplicasSQLite
	}
	if _, err := s.pool.Exec(ctx, `UPDATE replicas SET stopped_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("stop replica %s: %w", id, err)
	}
	return nil
}

// PruneReplicas deletes the replicas not seen for longer than age, returning how many. Keep
// age well beyond the job queue's own rescue time: a job left running by a pruned replica
// names no registered one, and only the job queue's rescuer takes it back then.
func (s *Store) PruneReplicas(ctx context.Context, age time.Duration) (int64, error) {
	if s.dialect != Postgres {
		return 0, errReplicasSQLite
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM replicas WHERE last_seen < now() - make_interval(secs => $1)`, age.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune replicas: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Replicas lists the registered replicas, the most recently started first.
func (s *Store) Replicas(ctx context.Context) ([]Replica, error) {
	if s.dialect != Postgres {
		return nil, errReplicasSQLite
	}
	rows, err := s.pool.Query(ctx, `SELECT id, host, pid, started_at, last_seen, stopped_at FROM replicas ORDER BY started_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var (
			r       Replica
			stopped *time.Time
		)
		if err := rows.Scan(&r.ID, &r.Host, &r.PID, &r.Started, &r.LastSeen, &stopped); err != nil {
			return nil, fmt.Errorf("list replicas: %w", err)
		}
		if stopped != nil {
			r.Stopped = *stopped
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
