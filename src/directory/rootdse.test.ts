import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeDirectoryCapability, judgeDirectory, parseRootDse, sambaRefusal } from './rootdse.ts';

function rootDse(values: Record<string, string[]>) {
  return parseRootDse((name) => values[name] ?? []);
}

const microsoft = {
  defaultNamingContext: ['DC=corp,DC=example,DC=com'],
  supportedCapabilities: [activeDirectoryCapability, '1.2.840.113556.1.4.1670'],
  supportedControl: ['1.2.840.113556.1.4.319'],
  domainFunctionality: ['7'],
  isGlobalCatalogReady: ['TRUE'],
};

describe('directory validation', () => {
  it('accepts Microsoft AD and names its functional level', () => {
    const verdict = judgeDirectory(rootDse(microsoft), { allowSamba: false });
    assert.equal(verdict.accepted, true);
    assert.equal(verdict.kind, 'microsoft-ad');
    assert.match(verdict.reason, /Windows Server 2016/);
  });

  it('refuses Samba by default, with the sentence people will read', () => {
    const verdict = judgeDirectory(rootDse({ ...microsoft, vendorName: ['Samba Team (https://www.samba.org)'] }), { allowSamba: false });
    assert.equal(verdict.accepted, false);
    assert.equal(verdict.kind, 'samba');
    assert.ok(verdict.reason.startsWith(sambaRefusal));
  });

  it('accepts Samba only under the lab override, with a warning', () => {
    const verdict = judgeDirectory(rootDse({ ...microsoft, vendorName: ['Samba Team (https://www.samba.org)'] }), { allowSamba: true });
    assert.equal(verdict.accepted, true);
    assert.match(verdict.warnings.join(' '), /Lab override/);
  });

  it('refuses a non-AD LDAP server and says why', () => {
    const verdict = judgeDirectory(rootDse({ namingContexts: ['dc=example,dc=org'], vendorName: ['OpenLDAP'] }), { allowSamba: true });
    assert.equal(verdict.accepted, false);
    assert.equal(verdict.kind, 'not-ad');
    assert.match(verdict.reason, /not Active Directory \(vendorName: OpenLDAP\)/);
  });

  it('recognises the Portico managed directory', () => {
    const verdict = judgeDirectory(rootDse({ ...microsoft, vendorName: ['Portico'] }), { allowSamba: false });
    assert.equal(verdict.kind, 'portico-managed');
  });

  it('warns when the global catalog is not ready', () => {
    const verdict = judgeDirectory(rootDse({ ...microsoft, isGlobalCatalogReady: ['FALSE'] }), { allowSamba: false });
    assert.match(verdict.warnings.join(' '), /global catalog/);
  });
});
