-- The breaker counts the incidents of its window per playbook and the distinct accounts
-- they act in. With the playbook and account in the index beside created_at, the count
-- reads the index alone, not every incident row of the window; the index still serves
-- listing incidents by creation time, so it replaces the one on created_at alone.

DROP INDEX incidents_created;
CREATE INDEX incidents_created ON incidents (created_at, playbook, target_account);
