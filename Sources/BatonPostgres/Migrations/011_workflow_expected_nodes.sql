-- Baton schema, version 11: a workflow whose nodes arrive in several requests.
-- Names are unqualified (see 001); every statement may run again over its own result.
--
-- Machinery's brokers send a group or chord a member per message; its members join one
-- workflow (docs/workflows.md). `expected_nodes` is how many nodes it will have: until it has
-- them it is running, although every node stored so far may have finished.
ALTER TABLE workflows ADD COLUMN IF NOT EXISTS expected_nodes integer;
