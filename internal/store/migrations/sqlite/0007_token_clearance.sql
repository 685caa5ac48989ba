-- Sensitivity clearance per API token: the labels (a playbook's metadata.labels.sensitivity,
-- lower-cased) of the incidents the token may see beside the unlabelled ones. Tokens made
-- before it are cleared for none, as every token but an administrator's was.

ALTER TABLE api_tokens ADD COLUMN clearance TEXT NOT NULL DEFAULT '[]';
