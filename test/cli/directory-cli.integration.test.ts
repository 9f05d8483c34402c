/**
 * `portico directory …` as a script would run it, against the real Samba DC: output, --json and
 * exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fixtureUser, sambaRuntime } from '../support/samba.ts';

const dc = sambaRuntime();
const bin = new URL('../../bin/portico.js', import.meta.url).pathname;

function portico(args: string[], extraEnv: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      PORTICO_DIRECTORY__DOMAIN: dc.domain,
      PORTICO_DIRECTORY__URLS: JSON.stringify([dc.ldapsUrl]),
      PORTICO_DIRECTORY__SERVICEACCOUNT__USERNAME: dc.serviceAccount.username,
      PORTICO_DIRECTORY__SERVICEACCOUNT__PASSWORD: dc.serviceAccount.password,
      PORTICO_DIRECTORY__TLS__CAFILE: dc.caFile,
      ...extraEnv,
    },
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const lab = { PORTICO_DIRECTORY__ALLOWSAMBA: 'true' };

describe('portico directory (CLI)', () => {
  it('check refuses Samba by default with exit code 3', () => {
    const run = portico(['directory', 'check']);
    assert.equal(run.status, 3, run.stderr);
    assert.match(run.stdout, /^REFUSED: Simple AD \(Samba4\) is not supported as a connected directory/);
    // A refused directory's read access is not tried: saying "false" would be a guess.
    assert.match(run.stdout, /service account reads users\s+not tested \(the directory was refused\)/);
    assert.equal((JSON.parse(portico(['directory', 'check', '--json']).stdout) as { canReadUsers: unknown }).canReadUsers, null);
    assert.ok(!run.stdout.includes(dc.serviceAccount.password) && !run.stderr.includes(dc.serviceAccount.password));
  });

  it('check accepts Samba under the lab override and prints what it discovered', () => {
    const run = portico(['directory', 'check'], lab);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^ACCEPTED: Accepted under the lab override/);
    assert.match(run.stdout, /NetBIOS name\s+CORP/);
    assert.match(run.stdout, /service account reads users\s+true/);
    assert.match(run.stderr, /WARNING: the lab override allowSamba is on/);
    const json = portico(['directory', 'check', '--json'], lab);
    const parsed = JSON.parse(json.stdout) as { verdict: { accepted: boolean }; info: { baseDn: string } };
    assert.equal(parsed.verdict.accepted, true);
    assert.equal(parsed.info.baseDn, dc.baseDn);
  });

  it('find-user prints the user and the account state; --json for scripts', () => {
    const alice = fixtureUser('alice');
    const run = portico(['directory', 'find-user', 'CORP\\alice'], lab);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`userPrincipalName\\s+${alice.upn}`));
    const json = JSON.parse(portico(['directory', 'find-user', '--json', 'dave'], lab).stdout) as { account: { state: string } };
    assert.equal(json.account.state, 'disabled');
  });

  it('find-user exits 4 for an unknown user, with a JSON error under --json', () => {
    const run = portico(['directory', 'find-user', '--json', 'nobody'], lab);
    assert.equal(run.status, 4);
    assert.deepEqual(JSON.parse(run.stdout), { error: { code: 'directory.user_not_found', message: 'no user matches "nobody"' } });
  });

  it('groups-of lists nested groups by the chosen method: security groups only, as tokenGroups', () => {
    const run = portico(['directory', 'groups-of', 'alice', '--method', 'recursive'], lab);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Eng-Platform-SRE@corp\.example\.test/);
    assert.doesNotMatch(run.stdout, /All-Staff@corp\.example\.test/);
    assert.doesNotMatch(run.stdout, /\sdistribution\s/);
    assert.match(run.stdout, /groups by recursive in \d+ ms/);
  });

  it('groups-of --help keeps tokenGroups the default and calls matchingRuleInChain a diagnostic, with its cost', () => {
    const run = portico(['directory', 'groups-of', '--help'], {});
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /tokenGroups\s+the DC's constructed attribute \(default/);
    assert.match(run.stdout, /matchingRuleInChain\s+LDAP_MATCHING_RULE_IN_CHAIN, a diagnostic/);
    assert.match(run.stdout, /5-8 s per user, close to the 10 s operation timeout/);
    assert.match(run.stdout, /Distribution groups carry no access/);
  });

  it('exits 2 naming the bad key for invalid configuration', () => {
    const run = portico(['directory', 'check'], { PORTICO_DIRECTORY__URLS: '["http://dc1"]' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /directory\.urls\.0: must look like ldaps:\/\/host\[:port\]/);
    assert.match(run.stderr, /PORTICO_DIRECTORY__URLS/);
  });

  it('exits 5 when no domain controller answers', () => {
    const run = portico(['directory', 'check'], { ...lab, PORTICO_DIRECTORY__URLS: '["ldaps://127.0.0.1:9"]' });
    assert.equal(run.status, 5);
    assert.match(run.stderr, /no domain controller answered/);
  });

  it('documents every command in --help', () => {
    const help = portico(['directory', 'groups-of', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /tokenGroups\s+the DC's constructed attribute/);
    assert.match(help.stdout, /Exit codes:/);
  });
});
