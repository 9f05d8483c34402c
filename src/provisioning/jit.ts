/**
 * Just-in-time provisioning, the one step this domain owns (issue 14): a directory user, through
 * the attribute mappings, becomes (or refreshes) their identity-store record, and the change is
 * audited. The sign-in flow (auth/) calls it inside its transaction; nothing here knows about
 * passwords, throttles or sessions.
 */
import type { AuditLog } from '#src/audit/index.ts';
import type { DirectoryUser } from '#src/directory/types.ts';
import { applyMappings, type MappingTable } from '#src/identity-store/mappings.ts';
import { toProvisionedUser, type IdentityUserWriter, type ProvisionedUser, type UpsertResult } from '#src/identity-store/user.ts';

/** The identity-store record a directory user maps to (throws identity.mapping_value_missing). */
export function mapDirectoryUser(mappings: MappingTable, user: DirectoryUser): ProvisionedUser {
  const mapped = applyMappings(mappings, user);
  return toProvisionedUser(
    { guid: user.guid, sid: user.sid, userPrincipalName: user.userPrincipalName ?? `${user.samAccountName}@${user.domain}`, domain: user.domain },
    mapped.values,
  );
}

/** Writes the record and audits what changed; run inside the caller's transaction. */
export async function provisionUser(tx: { users: IdentityUserWriter; audit: AuditLog }, provisioned: ProvisionedUser, at: Date): Promise<UpsertResult> {
  const upsert = await tx.users.upsert(provisioned, at);
  await recordProvisioning(tx.audit, upsert);
  return upsert;
}

async function recordProvisioning(audit: AuditLog, upsert: UpsertResult): Promise<void> {
  if (upsert.change === 'unchanged') return;
  const action = upsert.change === 'created' ? 'identity.user.provisioned' : upsert.change === 'reprovisioned' ? 'identity.user.reprovisioned' : 'identity.user.updated';
  await audit.record({
    actor: 'system',
    action,
    target: upsert.user.userId,
    outcome: 'success',
    details: {
      userName: upsert.user.userName,
      guid: upsert.user.activeDirectory.guid,
      previousUserId: upsert.change === 'reprovisioned' ? (upsert.before?.userId ?? null) : null,
      changed: upsert.before && upsert.change === 'updated' ? changedAttributes(upsert.before.attributes, upsert.user.attributes) : null,
    },
  });
}

function changedAttributes(before: Record<string, string | undefined>, after: Record<string, string | undefined>): Record<string, { before: string | null; after: string | null }> {
  const changed: Record<string, { before: string | null; after: string | null }> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[key] !== after[key]) changed[key] = { before: before[key] ?? null, after: after[key] ?? null };
  }
  return changed;
}
