/**
 * Attribute mappings: the table editor, a preview for one user read from the directory now, and
 * the check of the saved table against a sample of the directory (the users it would refuse).
 */
import { useRef, useState } from 'preact/hooks';
import type { ApiResult } from '../api.ts';
import { api, InputError } from '../api.ts';
import { Field, FormCard, Hidden, LoadState, Table, useLoad, useUid, valueOf } from '../ui.tsx';

const TARGETS = ['AD_GUID', 'email', 'familyName', 'givenName', 'middleName', 'name', 'preferredUsername', 'subject', 'formattedName', 'nickName', 'phoneNumber', 'address', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'department', 'employeeNumber', 'costCenter', 'organization', 'division', 'manager'];

interface Row {
  key: number;
  target: string;
  template: string;
}

export function MappingsPage() {
  const listId = useUid('mapping-targets');
  const [loaded] = useLoad(() => api('get', '/mappings'));
  return (
    <>
      <p class="intro">
        At every sign-in each identity-store attribute (the target) gets the value of its template, read from Active Directory: <code>{'${dir:windowsUpn}'}</code>, <code>{'${dir:initials|""}'}</code> (an empty default), or text around them. A required value that is missing stops
        the sign-in with a message naming it.
      </p>
      <datalist id={listId}>
        {TARGETS.map((target) => (
          <option value={target} />
        ))}
      </datalist>
      <div>{loaded.state === 'ready' ? <Editor listId={listId} table={loaded.data.table} isDefault={loaded.data.isDefault} /> : <LoadState loaded={loaded} />}</div>
    </>
  );
}

let rowKeys = 0;
const toRows = (table: Record<string, string>): Row[] => Object.entries(table).map(([target, template]) => ({ key: ++rowKeys, target, template }));

function Editor({ listId, table, isDefault }: { listId: string; table: Record<string, string>; isDefault: boolean }) {
  const [rows, setRows] = useState<Row[]>(() => toRows(table));
  const [saved, setSaved] = useState(!isDefault);
  const body = useRef<HTMLTableSectionElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);

  /** The table as edited now (saved or not), read from the inputs. */
  function readTable(): Record<string, string> {
    const result: Record<string, string> = {};
    for (const row of body.current?.rows ?? []) {
      const target = row.querySelector<HTMLInputElement>('input[name="target"]')?.value.trim() ?? '';
      const template = row.querySelector<HTMLInputElement>('input[name="template"]')?.value ?? '';
      if (target === '' && template.trim() === '') continue;
      if (target === '') throw new InputError(`a row with the template "${template.slice(0, 60)}" has no target`, 'target');
      if (Object.hasOwn(result, target)) throw new InputError(`${target} is listed twice`, 'target');
      result[target] = template;
    }
    return result;
  }
  function removeRow(index: number) {
    const rowsNow = [...(body.current?.rows ?? [])];
    const next = rowsNow[index + 1] ?? rowsNow[index - 1];
    setRows((current) => current.filter((_, i) => i !== index));
    setTimeout(() => (next?.querySelector('input') ?? addButton.current)?.focus(), 0);
  }
  function addRow() {
    setRows((current) => [...current, { key: ++rowKeys, target: '', template: '' }]);
    setTimeout(() => body.current?.rows[body.current.rows.length - 1]?.querySelector('input')?.focus(), 0);
  }

  return (
    <>
      <FormCard
        title="Mapping table"
        submitLabel="Save mappings"
        extra={
          <button type="button" class="secondary" ref={addButton} onClick={addRow}>
            Add a row
          </button>
        }
        submit={async () => {
          const result = await api('put', '/mappings', { body: { table: readTable() } });
          setRows(toRows(result.table));
          setSaved(true);
          return `Mappings saved (${Object.keys(result.table).length} targets). They apply from the next sign-in.`;
        }}
      >
        <p class="hint">{saved ? 'A saved table (not the default).' : "This is Portico's default table: nothing has been saved yet. Identity Center's own table (it refuses users without initials) is the identity-center preset of portico mappings set."}</p>
        <div class="table-block">
          <table class="stack">
            <caption>Targets and their templates</caption>
            <thead>
              <tr>
                <th scope="col">Target</th>
                <th scope="col">Template</th>
                <th scope="col">
                  <Hidden>Remove</Hidden>
                </th>
              </tr>
            </thead>
            <tbody ref={body}>
              {rows.map((row, index) => (
                <MappingRow key={row.key} row={row} n={index + 1} listId={listId} onRemove={() => removeRow(index)} />
              ))}
            </tbody>
          </table>
        </div>
      </FormCard>
      <Preview readTable={readTable} />
      <Check />
    </>
  );
}

function MappingRow({ row, n, listId, onRemove }: { row: Row; n: number; listId: string; onRemove: () => void }) {
  const targetId = useUid('target');
  const templateId = useUid('template');
  return (
    <tr>
      <td data-label="Target">
        <label class="visually-hidden" for={targetId}>
          Target {n}
        </label>
        <input id={targetId} type="text" name="target" defaultValue={row.target} list={listId} autoComplete="off" spellcheck={false} autocapitalize="none" />
      </td>
      <td data-label="Template">
        <label class="visually-hidden" for={templateId}>
          Template {n}
        </label>
        <input id={templateId} type="text" name="template" defaultValue={row.template} class="mono" autoComplete="off" spellcheck={false} autocapitalize="none" />
      </td>
      <td data-label="Remove">
        <button type="button" class="danger small" onClick={onRemove}>
          Remove<Hidden>{` row ${n}${row.target ? ` (${row.target})` : ''}`}</Hidden>
        </button>
      </td>
    </tr>
  );
}

type PreviewResult = ApiResult<'/mappings/preview', 'post'>;

function Preview({ readTable }: { readTable: () => Record<string, string> }) {
  const [result, setResult] = useState<{ user: string; preview: PreviewResult } | null>(null);
  const failures = result ? result.preview.rows.filter((r) => r.error).length : 0;
  return (
    <FormCard
      title="Preview for a user"
      submitLabel="Preview"
      submit={async (form) => {
        setResult(null);
        const user = valueOf(form, 'user');
        const preview = await api('post', '/mappings/preview', { body: { user, table: readTable() } });
        setResult({ user, preview });
      }}
      after={
        <div aria-live="polite">
          {result ? (
            <>
              {failures > 0 ? <p class="warning">{`${failures} of ${result.preview.rows.length} targets have no value: this user could not sign in with this table.`}</p> : null}
              <Table
                caption={`Values for ${result.user}`}
                empty="No targets are mapped."
                rows={result.preview.rows}
                columns={[
                  { label: 'Target', cell: (r) => r.target },
                  { label: 'Template', cell: (r) => <code>{r.template}</code> },
                  { label: 'Value', cell: (r) => (r.value !== null ? r.value : <span class="note">{r.error ? 'No value' : 'Not set (empty, allowed by the template)'}</span>) },
                  { label: 'Error', cell: (r) => (r.error ? <span class="error-text">{r.error}</span> : 'None') },
                ]}
              />
            </>
          ) : null}
        </div>
      }
    >
      <Field name="user" label="User" hint="UPN, DOMAIN\name, sAMAccountName or objectGUID. The preview uses the table as edited above, saved or not." />
    </FormCard>
  );
}

type CheckReport = ApiResult<'/mappings/check', 'post'>;

/** The check reads a sample of the directory with the saved table: what sign-ins would meet. */
function Check() {
  const [report, setReport] = useState<CheckReport | null>(null);
  const rows = report
    ? report.mappings.flatMap((m) =>
        m.problems.length === 0 ? [{ target: m.target, template: m.template, users: 0, description: null as string | null, examples: [] as string[] }] : m.problems.map((p) => ({ target: m.target, template: m.template, users: p.users, description: p.description, examples: p.examples })),
      )
    : [];
  const n = (value: number) => value.toLocaleString('en');
  return (
    <FormCard
      title="Check against the directory"
      intro="Applies the saved table to a sample of the directory’s users and counts, per mapping, the users it would refuse at sign-in and why."
      submitLabel="Check mappings"
      submit={async (form) => {
        setReport(null);
        const text = valueOf(form, 'limit');
        const limit = Number(text);
        if (!/^\d+$/.test(text) || limit < 1 || limit > 10000) throw new InputError('limit: a whole number from 1 to 10,000', 'limit');
        setReport(await api('post', '/mappings/check', { body: { limit } }));
      }}
      after={
        <div aria-live="polite" class="mapping-check">
          {report ? (
            <>
              <p class={report.refusedUsers > 0 ? 'warning' : 'note'} data-summary="mapping-check">
                {`Checked ${report.more ? `a sample of ${n(report.sampled)} users (the directory has more)` : `all ${n(report.sampled)} users`}${report.disabled > 0 ? `, ${n(report.disabled)} disabled not counted` : ''}: `}
                {report.refusedUsers > 0 ? `${n(report.refusedUsers)} of ${n(report.checked)} would be refused at sign-in.` : 'no user would be refused at sign-in.'}
              </p>
              <Table
                caption="Users each mapping would refuse"
                empty="No targets are mapped."
                rows={rows}
                columns={[
                  { label: 'Target', cell: (r) => r.target },
                  { label: 'Template', cell: (r) => <code>{r.template}</code> },
                  { label: 'Refused', cell: (r) => String(r.users) },
                  { label: 'Why', cell: (r) => (r.description ? <span class="error-text">{r.description}</span> : 'None') },
                  { label: 'Examples', cell: (r) => (r.examples.length > 0 ? r.examples.join(', ') : '') },
                ]}
              />
            </>
          ) : null}
        </div>
      }
    >
      <Field name="limit" label="Users to sample" hint="At most this many users, read a page at a time (1 to 10,000). Disabled accounts are read but not counted." value="1000" inputMode="numeric" />
    </FormCard>
  );
}
