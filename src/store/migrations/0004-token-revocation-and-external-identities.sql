-- Logout and password change bump token_version: the server's own tokens carry the version they
-- were issued under and are refused once it moved. Tokens of an external identity provider carry
-- no version: those issued (iat) before tokens_valid_after are refused.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;
-- A user of an external identity provider, known by (issuer, subject), gets a local user row on
-- first sight; its password_hash is '!' which no password verifies.
CREATE TABLE external_identities (
  issuer text NOT NULL,
  subject text NOT NULL,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (issuer, subject)
);
