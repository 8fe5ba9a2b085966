-- Shares made by email to an address without an account: turned into a share, in the
-- transaction that creates the account with that email.
CREATE TABLE pending_shares (
    document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (document_id, email)
);
CREATE INDEX pending_shares_email ON pending_shares (email);

CREATE INDEX invitations_workspace ON invitations (workspace_id, created_at);

-- A pending invitation does not outlive its sender's right to invite. Drop those whose
-- sender left, was removed or was demoted (below admin; below owner for an owner
-- invitation) before such changes revoked them.
DELETE FROM invitations
WHERE accepted_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM workspace_members m
    WHERE m.workspace_id = invitations.workspace_id
      AND m.user_id = invitations.invited_by
      AND (m.role = 'owner' OR (m.role = 'admin' AND invitations.role <> 'owner'))
  );
