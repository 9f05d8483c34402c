/* global document, window, location, history, fetch, URLSearchParams, AbortController, setTimeout, clearTimeout */
/**
 * Portico's administrator console: a plain ES module, no framework, no build step. Every page
 * reads and writes through the admin API (/admin/api) with the administrator's portal session;
 * the API validates everything and its error messages are shown as they are. Pages are chosen
 * by the URL's hash (#/accounts, #/users/<id>, #/access?account=<id>), so links and the back
 * button work. Elements are built with textContent only: nothing from the API is parsed as HTML.
 */

const API = '/admin/api';
const CONSOLE = '/console';

// ---------------------------------------------------------------------------------------------
// DOM helpers

/**
 * Builds an element. Props: `class`, `text`, `value`, `on<event>` handlers, booleans (true sets
 * the attribute, false/null/undefined leaves it out) and any other attribute as a string.
 */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  let value;
  for (const [key, prop] of Object.entries(props)) {
    if (prop === undefined || prop === null || prop === false) continue;
    if (key === 'class') element.className = prop;
    else if (key === 'text') element.textContent = prop;
    else if (key === 'value') value = prop;
    else if (key.startsWith('on') && typeof prop === 'function') element.addEventListener(key.slice(2), prop);
    else element.setAttribute(key, prop === true ? '' : String(prop));
  }
  append(element, children);
  if (value !== undefined) setDefault(element, value);
  return element;
}

/** Sets a control's value as its default too, so that form.reset() comes back to it. */
function setDefault(control, value) {
  if (control.tagName === 'SELECT') {
    for (const option of control.options) option.defaultSelected = option.value === value;
    control.value = value;
  } else if ('defaultValue' in control) {
    control.defaultValue = value;
    control.value = value;
  } else {
    control.value = value;
  }
}

function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return parent;
}

let lastId = 0;
const uid = (name) => `${name}-${++lastId}`;

const hidden = (text) => h('span', { class: 'visually-hidden' }, text);

function time(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return h('time', { datetime: iso }, date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' }));
}

function badge(text, tone) {
  return h('span', { class: `badge ${tone}` }, text);
}

/** A description list from [term, value] pairs; null values are left out. */
function summary(pairs) {
  return h('dl', { class: 'summary' }, pairs.filter(([, value]) => value !== null && value !== undefined).map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
}

/**
 * A data table with a caption. Columns: { label, cell(row) → node | string, hideLabel }.
 * On narrow screens (class "stack") each row becomes a card labelled by data-label.
 */
function table({ caption, columns, rows, empty, captionId }) {
  const head = h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column.hideLabel ? hidden(column.label) : column.label))));
  const body = h('tbody');
  if (rows.length === 0) body.append(h('tr', {}, h('td', { class: 'empty', colspan: String(columns.length) }, empty)));
  for (const row of rows) body.append(h('tr', {}, columns.map((column) => h('td', { 'data-label': column.label }, column.cell(row)))));
  return h('div', { class: 'table-block' }, h('table', { class: 'stack' }, h('caption', { id: captionId, tabindex: captionId ? '-1' : null }, caption), head, body));
}

/** Replaces the children of an element. */
function fill(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

// ---------------------------------------------------------------------------------------------
// The admin API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

let leaving = false;

/** The session ended or never was: sign in again, and come back to the same page. */
function signInAgain() {
  if (leaving) return;
  leaving = true;
  const back = location.hash.startsWith('#/') ? `${CONSOLE}${location.hash}` : CONSOLE;
  location.assign(`/sign-in?returnTo=${encodeURIComponent(back)}`);
}

async function api(method, path, body, { signal } = {}) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store', signal };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`${API}${path}`, init);
  } catch (error) {
    if (error && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'Portico did not answer (network error). Check the connection and try again.');
  }
  if (response.status === 401) {
    signInAgain();
    throw new ApiError(401, 'admin.unauthenticated', 'Your session has ended: taking you to the sign-in page…');
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let data = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && typeof data === 'object' ? data.error : null;
    const message = error && typeof error.message === 'string' ? error.message : `Portico answered ${response.status} ${response.statusText}`.trim();
    throw new ApiError(response.status, error && typeof error.code === 'string' ? error.code : `http.${response.status}`, message);
  }
  return data;
}

const segment = (id) => encodeURIComponent(id);

/** Shows a failed action's message (verbatim from the API) in an alert region. */
function showError(alert, error) {
  if (error && error.name === 'AbortError') return;
  alert.textContent = error instanceof ApiError || error instanceof InputError ? error.message : `Unexpected error: ${error && error.message ? error.message : String(error)}`;
}

/** A mistake caught before anything is sent (the API would refuse it as well). */
class InputError extends Error {
  constructor(message, field) {
    super(message);
    this.name = 'InputError';
    this.field = field;
  }
}

/** Loads data for a region: shows "Loading…" meanwhile and an alert on failure (then null). */
async function load(region, work) {
  fill(region, h('p', { class: 'note' }, 'Loading…'));
  try {
    const result = await work();
    region.replaceChildren();
    return result;
  } catch (error) {
    fill(region, h('div', { class: 'alert', role: 'alert' }));
    showError(region.firstChild, error);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Flash messages, confirmation, navigation

const flash = {
  element: null,
  say(message) {
    this.element.textContent = '';
    // A fresh text node in the live region, so that the same message twice is announced twice.
    setTimeout(() => (this.element.textContent = message), 30);
  },
  clear() {
    this.element.textContent = '';
  },
};

/** Asks in a modal dialog; resolves true when confirmed. Escape and Cancel say no. */
function confirmAction({ title, message, confirm = 'Delete' }) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-message').textContent = message;
  document.getElementById('confirm-ok').textContent = confirm;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true }));
}

/** Goes to a console page; `message` is shown there once. */
function navigate(hash, message) {
  pendingFlash = message ?? null;
  if (location.hash === hash) void render({ focus: true });
  else location.hash = hash;
}

/** Updates the address without re-rendering (search terms, chosen targets). */
function remember(hash) {
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

let pendingFlash = null;

// ---------------------------------------------------------------------------------------------
// Forms

/**
 * A labelled control. Options: name, label, hint, type, value, optional, rows (a textarea),
 * mono, options ([{ value, label }] for a select), autocomplete, inputmode.
 */
function field(options) {
  const id = uid(options.name);
  const hintId = options.hint ? `${id}-hint` : null;
  const common = { id, name: options.name, 'aria-describedby': hintId, spellcheck: 'false' };
  let control;
  if (options.options) {
    control = h('select', common, options.options.map((option) => h('option', { value: option.value, disabled: option.disabled }, option.label)));
  } else if (options.rows) {
    control = h('textarea', { ...common, rows: String(options.rows), class: options.mono ? 'mono' : null, autocapitalize: 'none' });
  } else {
    control = h('input', {
      ...common,
      type: options.type ?? 'text',
      autocomplete: options.autocomplete ?? 'off',
      autocapitalize: 'none',
      inputmode: options.inputmode,
      class: options.mono ? 'mono' : null,
      list: options.list,
    });
  }
  if (options.value !== undefined) setDefault(control, options.value);
  const wrapper = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, options.label, options.optional ? h('span', { class: 'optional' }, ' (optional)') : null),
    hintId ? h('p', { id: hintId, class: 'hint' }, options.hint) : null,
    control,
  );
  wrapper.control = control;
  return wrapper;
}

/** A labelled checkbox (read with `checked(form, name)`); options: name, label, hint. */
function checkbox(options) {
  const id = uid(options.name);
  const hintId = options.hint ? `${id}-hint` : null;
  const control = h('input', { id, name: options.name, type: 'checkbox', 'aria-describedby': hintId });
  const wrapper = h('div', { class: 'field' }, h('div', { class: 'choice' }, control, h('label', { for: id }, options.label)), hintId ? h('p', { id: hintId, class: 'hint' }, options.hint) : null);
  wrapper.control = control;
  return wrapper;
}

/**
 * A form section: heading, alert, fields, submit button. `submit(form)` returns a message for
 * the flash region (or nothing); API errors land in the alert verbatim, and the field they name
 * is marked invalid. The button is never disabled (it would lose the keyboard focus): a second
 * press while busy is ignored.
 */
function formCard({ title, intro, fields, submitLabel, submit, extra, headingLevel = 'h2' }) {
  const headingId = uid('form-title');
  const alert = h('div', { class: 'alert', role: 'alert', id: uid('form-alert') });
  const button = h('button', { type: 'submit' }, submitLabel);
  const form = h('form', { novalidate: true, 'aria-labelledby': headingId }, alert, fields, h('div', { class: 'actions' }, button, extra));
  let busy = false;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.setAttribute('aria-disabled', 'true');
    alert.textContent = '';
    for (const invalid of form.querySelectorAll('[aria-invalid="true"]')) unmarkInvalid(invalid, alert.id);
    try {
      const message = await submit(form);
      if (message) flash.say(message);
    } catch (error) {
      showError(alert, error);
      markInvalidFields(form, error, alert.id);
    } finally {
      busy = false;
      button.removeAttribute('aria-disabled');
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': headingId }, h(headingLevel, { id: headingId }, title), intro ? h('p', { class: 'hint' }, intro) : null, form);
}

function unmarkInvalid(control, alertId) {
  control.removeAttribute('aria-invalid');
  const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id !== '' && id !== alertId);
  if (described.length > 0) control.setAttribute('aria-describedby', described.join(' '));
  else control.removeAttribute('aria-describedby');
}

/** "name: required; body acsUrls: …" → marks the controls named name and acsUrls. */
function markInvalidFields(form, error, alertId) {
  const names = new Set();
  if (error instanceof InputError && error.field) names.add(error.field);
  if (error instanceof ApiError) {
    for (const part of error.message.split('; ')) {
      const match = /^(?:(?:body|query|path) )?([A-Za-z]+)(?:[.[][^:\s]*)?:/.exec(part);
      if (match) names.add(match[1]);
    }
  }
  for (const name of names) {
    const control = form.elements.namedItem(name);
    if (!control || typeof control.setAttribute !== 'function') continue;
    control.setAttribute('aria-invalid', 'true');
    const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id !== '');
    if (!described.includes(alertId)) control.setAttribute('aria-describedby', [alertId, ...described].join(' '));
  }
}

const valueOf = (form, name) => {
  const control = form.elements.namedItem(name);
  return control ? String(control.value).trim() : '';
};

const checked = (form, name) => {
  const control = form.elements.namedItem(name);
  return Boolean(control && control.checked);
};

/** Optional fields are sent only when filled. */
function optional(target, key, value) {
  if (value !== '') target[key] = value;
  return target;
}

const lines = (text) =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');

/** "key=value" per line. */
function parseTags(text) {
  const tags = {};
  for (const [index, line] of lines(text).entries()) {
    const at = line.indexOf('=');
    if (at <= 0) throw new InputError(`tags: line ${index + 1} must be key=value`, 'tags');
    tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return tags;
}

const tagsField = () => field({ name: 'tags', label: 'Tags', optional: true, rows: 2, mono: true, hint: 'One key=value per line.' });

function deleteButton(label, onConfirmed) {
  return h('button', { type: 'button', class: 'danger small', onclick: onConfirmed }, 'Delete', hidden(` ${label}`));
}

// ---------------------------------------------------------------------------------------------
// Shared lookups

async function loadCatalog() {
  const [accounts, permissionSets, applications] = await Promise.all([api('GET', '/accounts'), api('GET', '/permission-sets'), api('GET', '/applications')]);
  return {
    accounts: accounts.accounts,
    permissionSets: permissionSets.permissionSets,
    applications: applications.applications,
    account: (id) => accounts.accounts.find((a) => a.id === id),
    permissionSet: (id) => permissionSets.permissionSets.find((p) => p.id === id),
    application: (id) => applications.applications.find((a) => a.id === id),
  };
}

const accountLabel = (account) => `${account.name} (${account.id})`;

/** Group names in a path, without the domain they share with the assigned group. */
function pathText(path, assignedName) {
  const at = typeof assignedName === 'string' ? assignedName.lastIndexOf('@') : -1;
  const domain = at > 0 ? assignedName.slice(at).toLowerCase() : null;
  return path.map((name) => (domain && name.toLowerCase().endsWith(domain) ? name.slice(0, name.length - domain.length) : name)).join(' → ');
}

/** How a user is granted: directly, or through a group and its nesting path. */
function grantNode(grant) {
  if (grant.type === 'user') return h('span', {}, 'Assigned to the user directly');
  const nested = grant.path.length > 1;
  return h(
    'span',
    { class: 'grant' },
    'Group ',
    h('strong', {}, grant.name),
    h('span', { class: 'path' }, nested ? `through ${pathText(grant.path, grant.name)}` : 'direct member'),
  );
}

function principalNode(principal) {
  return h('span', {}, h('span', { class: 'kind' }, principal.type === 'group' ? 'Group' : 'User'), ' ', principal.name);
}

// ---------------------------------------------------------------------------------------------
// Pages

/** Directory: the identity source, its verdict and its domain controllers (or trusts). */
async function directoryPage({ page }) {
  const region = h('div');
  const refresh = h('button', { type: 'button', class: 'secondary', onclick: () => void show() }, 'Refresh');
  append(page, h('p', { class: 'intro' }, 'The identity source Portico reads users and groups from, whether it was accepted, and the state of each domain controller.'), region, h('div', { class: 'actions' }, refresh));

  async function show() {
    const status = await load(region, () => api('GET', '/directory'));
    if (!status) return;
    const known = new Set(['kind', 'state', 'domain', 'verdict', 'controllers', 'code', 'reason', 'ldapUrl', 'ldapsUrl', 'certificateSha256', 'trusts', 'health', 'serviceAccount']);
    const good = status.state === 'connected' || status.state === 'running';
    const verdict = status.verdict && typeof status.verdict === 'object' ? status.verdict : null;
    const kind = status.kind === 'managed' ? 'Portico managed directory' : status.kind === 'connector' ? 'Active Directory, connected (connector)' : String(status.kind);
    append(
      region,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'directory-source' },
        h('h2', { id: 'directory-source' }, 'Identity source'),
        summary([
          ['Kind', kind],
          ['State', badge(String(status.state), good ? 'ok' : 'bad')],
          // Whether Portico's service account binds now (a running directory can still be failing).
          ['Health', status.health ? badge(String(status.health), status.health === 'ok' ? 'ok' : 'bad') : null],
          ['Service account', status.serviceAccount?.account ?? null],
          ['Domain', status.domain ?? null],
          ['LDAP URL', status.ldapUrl ?? null],
          ['LDAPS URL', status.ldapsUrl ?? null],
          ['Certificate SHA-256', status.certificateSha256 ? h('span', { class: 'mono' }, status.certificateSha256) : null],
          ...Object.entries(status)
            .filter(([key]) => !known.has(key))
            .map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]),
        ]),
        status.reason ? h('div', { class: 'alert', role: 'alert' }, `${status.code ? `${status.code}: ` : ''}${status.reason}`) : null,
      ),
    );
    if (verdict) {
      append(
        region,
        h(
          'section',
          { class: 'card', 'aria-labelledby': 'directory-verdict' },
          h('h2', { id: 'directory-verdict' }, 'Validation verdict'),
          summary([
            ['Verdict', badge(verdict.accepted ? 'Accepted' : 'Refused', verdict.accepted ? 'ok' : 'bad')],
            ['Directory', verdict.kind ?? null],
            ['Reason', verdict.reason ?? null],
            ['Warnings', Array.isArray(verdict.warnings) && verdict.warnings.length > 0 ? h('ul', {}, verdict.warnings.map((w) => h('li', {}, w))) : 'None'],
          ]),
        ),
      );
    }
    if (Array.isArray(status.controllers)) {
      append(
        region,
        table({
          caption: `Domain controllers (${status.controllers.length})`,
          empty: 'No domain controllers.',
          rows: status.controllers,
          columns: [
            { label: 'Controller', cell: (c) => h('span', { class: 'mono' }, c.url) },
            { label: 'State', cell: (c) => badge(c.up ? 'Up' : 'Down', c.up ? 'ok' : 'bad') },
            { label: 'Since', cell: (c) => time(c.since) },
            { label: 'Last error', cell: (c) => c.lastError ?? 'None' },
            { label: 'Open connections', cell: (c) => (c.open ? `${c.open.service} service, ${c.open.bind} sign-in` : '—') },
          ],
        }),
      );
    }
    if (Array.isArray(status.trusts)) {
      append(
        region,
        table({
          caption: `Trusted forests (${status.trusts.length})`,
          empty: 'No trusted forests.',
          rows: status.trusts,
          columns: [
            { label: 'Forest', cell: (t) => t.domain },
            { label: 'State', cell: (t) => badge(t.ok ? 'Usable' : 'Unusable', t.ok ? 'ok' : 'bad') },
            { label: 'Reason', cell: (t) => t.reason ?? '' },
          ],
        }),
      );
    }
  }
  await show();
}

/** Attribute mappings: the table editor, and a preview for one user read from AD now. */
async function mappingsPage({ page }) {
  const TARGETS = ['AD_GUID', 'email', 'familyName', 'givenName', 'middleName', 'name', 'preferredUsername', 'subject', 'formattedName', 'nickName', 'phoneNumber', 'address', 'title', 'userType', 'preferredLanguage', 'locale', 'timezone', 'department', 'employeeNumber', 'costCenter', 'organization', 'division', 'manager'];
  const listId = uid('mapping-targets');
  append(
    page,
    h('p', { class: 'intro' }, 'At every sign-in each identity-store attribute (the target) gets the value of its template, read from Active Directory: ', h('code', {}, '${dir:windowsUpn}'), ', ', h('code', {}, '${dir:initials|""}'), ' (an empty default), or text around them. A required value that is missing stops the sign-in with a message naming it.'),
    h('datalist', { id: listId }, TARGETS.map((t) => h('option', { value: t }))),
  );
  const region = h('div');
  append(page, region);
  const current = await load(region, () => api('GET', '/mappings'));
  if (!current) return;

  const rowsBody = h('tbody');
  let rowCount = 0;
  function addRow(target = '', template = '') {
    const n = ++rowCount;
    const targetId = uid('target');
    const templateId = uid('template');
    const row = h(
      'tr',
      {},
      h('td', { 'data-label': 'Target' }, h('label', { class: 'visually-hidden', for: targetId }, `Target ${n}`), h('input', { id: targetId, type: 'text', name: 'target', value: target, list: listId, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' })),
      h('td', { 'data-label': 'Template' }, h('label', { class: 'visually-hidden', for: templateId }, `Template ${n}`), h('input', { id: templateId, type: 'text', name: 'template', value: template, class: 'mono', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' })),
      h('td', { 'data-label': 'Remove' }, h('button', { type: 'button', class: 'danger small', onclick: () => removeRow(row) }, 'Remove', hidden(` row ${n}${target ? ` (${target})` : ''}`))),
    );
    rowsBody.append(row);
    return row;
  }
  function removeRow(row) {
    const next = row.nextElementSibling ?? row.previousElementSibling;
    row.remove();
    (next ? next.querySelector('input') : addButton).focus();
  }
  function readTable() {
    const result = {};
    for (const row of rowsBody.rows) {
      const target = row.querySelector('input[name="target"]').value.trim();
      const template = row.querySelector('input[name="template"]').value;
      if (target === '' && template.trim() === '') continue;
      if (target === '') throw new InputError(`a row with the template "${template.slice(0, 60)}" has no target`, 'target');
      if (Object.hasOwn(result, target)) throw new InputError(`${target} is listed twice`, 'target');
      result[target] = template;
    }
    return result;
  }
  for (const [target, template] of Object.entries(current.table)) addRow(target, template);

  const addButton = h('button', { type: 'button', class: 'secondary', onclick: () => addRow().querySelector('input').focus() }, 'Add a row');
  const defaultNote = h('p', { class: 'hint' }, current.isDefault ? "This is Portico's default table: nothing has been saved yet. Identity Center's own table (it refuses users without initials) is the identity-center preset of portico mappings set." : 'A saved table (not the default).');
  const editor = formCard({
    title: 'Mapping table',
    fields: [
      defaultNote,
      h('div', { class: 'table-block' }, h('table', { class: 'stack' }, h('caption', {}, 'Targets and their templates'), h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Target'), h('th', { scope: 'col' }, 'Template'), h('th', { scope: 'col' }, hidden('Remove')))), rowsBody)),
    ],
    extra: addButton,
    submitLabel: 'Save mappings',
    submit: async () => {
      const saved = await api('PUT', '/mappings', { table: readTable() });
      rowsBody.replaceChildren();
      rowCount = 0;
      for (const [target, template] of Object.entries(saved.table)) addRow(target, template);
      defaultNote.textContent = 'A saved table (not the default).';
      return `Mappings saved (${Object.keys(saved.table).length} targets). They apply from the next sign-in.`;
    },
  });

  const previewResult = h('div', { 'aria-live': 'polite' });
  const userField = field({ name: 'user', label: 'User', hint: 'UPN, DOMAIN\\name, sAMAccountName or objectGUID. The preview uses the table as edited above, saved or not.', autocomplete: 'off' });
  const preview = formCard({
    title: 'Preview for a user',
    fields: [userField],
    submitLabel: 'Preview',
    submit: async (form) => {
      previewResult.replaceChildren();
      const user = valueOf(form, 'user');
      const result = await api('POST', '/mappings/preview', { user, table: readTable() });
      const failures = result.rows.filter((r) => r.error).length;
      fill(
        previewResult,
        failures > 0 ? h('p', { class: 'warning' }, `${failures} of ${result.rows.length} targets have no value: this user could not sign in with this table.`) : null,
        table({
          caption: `Values for ${user}`,
          empty: 'No targets are mapped.',
          rows: result.rows,
          columns: [
            { label: 'Target', cell: (r) => r.target },
            { label: 'Template', cell: (r) => h('code', {}, r.template) },
            { label: 'Value', cell: (r) => (r.value !== null ? r.value : h('span', { class: 'note' }, r.error ? 'No value' : 'Not set (empty, allowed by the template)')) },
            { label: 'Error', cell: (r) => (r.error ? h('span', { class: 'error-text' }, r.error) : 'None') },
          ],
        }),
      );
      return null;
    },
  });
  // The check reads a sample of the directory with the saved table: what sign-ins would meet.
  const checkResult = h('div', { 'aria-live': 'polite', class: 'mapping-check' });
  const limitField = field({ name: 'limit', label: 'Users to sample', hint: 'At most this many users, read a page at a time (1 to 10,000). Disabled accounts are read but not counted.', value: '1000', inputmode: 'numeric' });
  const check = formCard({
    title: 'Check against the directory',
    intro: 'Applies the saved table to a sample of the directory\u2019s users and counts, per mapping, the users it would refuse at sign-in and why.',
    fields: [limitField],
    submitLabel: 'Check mappings',
    submit: async (form) => {
      checkResult.replaceChildren();
      const text = valueOf(form, 'limit');
      const limit = Number(text);
      if (!/^\d+$/.test(text) || limit < 1 || limit > 10000) throw new InputError('limit: a whole number from 1 to 10,000', 'limit');
      const report = await api('POST', '/mappings/check', { limit });
      const rows = report.mappings.flatMap((m) =>
        m.problems.length === 0 ? [{ target: m.target, template: m.template, users: 0, description: null, examples: [] }] : m.problems.map((p) => ({ target: m.target, template: m.template, users: p.users, description: p.description, examples: p.examples })),
      );
      const sample = report.more ? `a sample of ${report.sampled.toLocaleString('en')} users (the directory has more)` : `all ${report.sampled.toLocaleString('en')} users`;
      const disabled = report.disabled > 0 ? `, ${report.disabled.toLocaleString('en')} disabled not counted` : '';
      fill(
        checkResult,
        h(
          'p',
          { class: report.refusedUsers > 0 ? 'warning' : 'note', 'data-summary': 'mapping-check' },
          `Checked ${sample}${disabled}: `,
          report.refusedUsers > 0 ? `${report.refusedUsers.toLocaleString('en')} of ${report.checked.toLocaleString('en')} would be refused at sign-in.` : 'no user would be refused at sign-in.',
        ),
        table({
          caption: 'Users each mapping would refuse',
          empty: 'No targets are mapped.',
          rows,
          columns: [
            { label: 'Target', cell: (r) => r.target },
            { label: 'Template', cell: (r) => h('code', {}, r.template) },
            { label: 'Refused', cell: (r) => String(r.users) },
            { label: 'Why', cell: (r) => (r.description ? h('span', { class: 'error-text' }, r.description) : 'None') },
            { label: 'Examples', cell: (r) => (r.examples.length > 0 ? r.examples.join(', ') : '') },
          ],
        }),
      );
      return null;
    },
  });
  append(region, editor, append(preview, previewResult), append(check, checkResult));
}

/** Users: search provisioned users by user-name prefix. */
async function usersPage({ page, params, segments, heading }) {
  if (segments.length > 1) return userPage({ page, heading, id: segments.slice(1).join('/') });
  const results = h('div');
  const more = h('div', { class: 'pager' });
  const prefix = field({ name: 'prefix', label: 'User name starts with', hint: 'Leave empty to list everyone provisioned (in user-name order).', value: params.get('prefix') ?? '', type: 'search' });
  let shown = [];

  async function search(value, after) {
    const query = new URLSearchParams({ limit: '50' });
    if (value !== '') query.set('prefix', value);
    if (after) query.set('after', after);
    const found = await api('GET', `/users?${query}`);
    shown = after ? [...shown, ...found.users] : found.users;
    fill(
      results,
      table({
        caption: `Provisioned users${value ? ` starting with “${value}”` : ''} (${shown.length}${found.next ? '+' : ''})`,
        empty: 'No provisioned user matches. People are provisioned when they first sign in.',
        rows: shown,
        columns: [
          { label: 'User name', cell: (u) => h('a', { href: `#/users/${segment(u.userId)}` }, u.userName) },
          { label: 'Display name', cell: (u) => u.displayName ?? '—' },
          { label: 'Email', cell: (u) => (u.emails && u.emails[0] ? u.emails[0].value : '—') },
          { label: 'Provisioned', cell: (u) => time(u.provisionedAt) },
        ],
      }),
    );
    fill(more, found.next ? h('button', { type: 'button', class: 'secondary', onclick: () => void search(value, found.next).catch((error) => showError(searchAlert, error)) }, 'Show more users') : null);
  }

  const card = formCard({
    title: 'Find a user',
    fields: [prefix],
    submitLabel: 'Search',
    submit: async (form) => {
      const value = valueOf(form, 'prefix');
      remember(value ? `#/users?${new URLSearchParams({ prefix: value })}` : '#/users');
      await search(value);
      return null;
    },
  });
  const searchAlert = card.querySelector('[role="alert"]');
  append(page, h('p', { class: 'intro' }, 'People provisioned into the identity store when they signed in. Removing one here ends their sessions; Active Directory is not touched.'), card, results, more);
  try {
    await search(prefix.control.value.trim());
  } catch (error) {
    showError(searchAlert, error);
  }
}

/** One provisioned user with their live sessions: revoke them, or remove the user. */
async function userPage({ page, heading, id }) {
  const region = h('div');
  append(page, h('p', {}, h('a', { href: '#/users' }, '← All users')), region);
  const found = await load(region, () => api('GET', `/users/${segment(id)}`));
  if (!found) return;
  const { user, sessions } = found;
  heading.textContent = user.userName;
  document.title = `${user.userName} · Users · Portico console`;
  const alert = h('div', { class: 'alert', role: 'alert' });
  const ad = user.activeDirectory ?? {};
  const attributes = Object.entries(user.attributes ?? {});

  const revoke = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      alert.textContent = '';
      if (!(await confirmAction({ title: 'Revoke sessions?', message: `End every portal session of ${user.userName}? They will have to sign in again.`, confirm: 'Revoke sessions' }))) return;
      try {
        const result = await api('POST', `/users/${segment(user.userId)}/revoke-sessions`);
        navigate(`#/users/${segment(user.userId)}`, `Ended ${result.sessionsRevoked} session${result.sessionsRevoked === 1 ? '' : 's'} of ${result.userName}.`);
      } catch (error) {
        showError(alert, error);
      }
    },
  }, 'Revoke all sessions');
  const remove = h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      alert.textContent = '';
      const message = `Remove ${user.userName} from Portico? Their sessions end now. Active Directory is not changed: if they are still allowed there, they are provisioned again at their next sign-in.`;
      if (!(await confirmAction({ title: 'Remove user?', message, confirm: 'Remove user' }))) return;
      try {
        const result = await api('DELETE', `/users/${segment(user.userId)}`);
        navigate('#/users', `Removed ${result.userName} (${result.sessionsRevoked} session${result.sessionsRevoked === 1 ? '' : 's'} ended).`);
      } catch (error) {
        showError(alert, error);
      }
    },
  }, 'Remove user');

  append(
    region,
    alert,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'user-details' },
      h('h2', { id: 'user-details' }, 'Details'),
      summary([
        ['User name', user.userName],
        ['Display name', user.displayName ?? '—'],
        ['Email', user.emails && user.emails.length > 0 ? user.emails.map((e) => e.value).join(', ') : '—'],
        ['User ID', h('span', { class: 'mono' }, user.userId)],
        ['Windows UPN', ad.windowsUpn ?? '—'],
        ['Domain', ad.domain ?? '—'],
        ['objectGUID', h('span', { class: 'mono' }, ad.guid ?? '—')],
        ['SID', h('span', { class: 'mono' }, ad.sid ?? '—')],
        ['First provisioned', time(user.createdAt)],
        ['Last provisioned', time(user.provisionedAt)],
      ]),
      h('p', {}, h('a', { href: `#/access?${new URLSearchParams({ user: user.userName })}` }, `What can ${user.userName} reach?`)),
    ),
    table({
      caption: `Mapped attributes (${attributes.length})`,
      empty: 'No mapped attributes.',
      rows: attributes,
      columns: [
        { label: 'Attribute', cell: ([name]) => name },
        { label: 'Value', cell: ([, value]) => value },
      ],
    }),
    table({
      caption: `Live sessions (${sessions.length})`,
      empty: 'No live sessions.',
      rows: sessions,
      columns: [
        { label: 'Session', cell: (s) => h('span', { class: 'mono' }, s.id) },
        { label: 'Started', cell: (s) => time(s.createdAt) },
        { label: 'Expires', cell: (s) => time(s.expiresAt) },
        { label: 'Client address', cell: (s) => s.clientAddress ?? '—' },
      ],
    }),
    h('section', { class: 'card', 'aria-labelledby': 'user-actions' }, h('h2', { id: 'user-actions' }, 'Actions'), h('div', { class: 'actions' }, revoke, remove)),
  );
}

/** Accounts: list, add, delete. */
async function accountsPage({ page }) {
  const listRegion = h('div');
  const listAlert = h('div', { class: 'alert', role: 'alert' });

  async function refresh() {
    const result = await load(listRegion, () => api('GET', '/accounts'));
    if (!result) return;
    append(
      listRegion,
      table({
        caption: `Accounts (${result.accounts.length})`,
        captionId: 'accounts-caption',
        empty: 'No accounts yet.',
        rows: result.accounts,
        columns: [
          { label: 'Account ID', cell: (a) => h('span', { class: 'mono' }, a.id) },
          { label: 'Name', cell: (a) => a.name },
          { label: 'Email', cell: (a) => a.email },
          { label: 'Organizational unit', cell: (a) => a.organizationalUnit ?? '—' },
          {
            label: 'Actions',
            cell: (a) =>
              h(
                'div',
                { class: 'actions' },
                h('a', { href: `#/access?${new URLSearchParams({ account: a.id })}` }, 'Who can reach', hidden(` ${a.name}`)),
                deleteButton(accountLabel(a), async () => {
                  listAlert.textContent = '';
                  if (!(await confirmAction({ title: 'Delete account?', message: `Delete the account ${accountLabel(a)} from Portico? Accounts with assignments cannot be deleted.` }))) return;
                  try {
                    await api('DELETE', `/accounts/${segment(a.id)}`);
                    flash.say(`Account ${accountLabel(a)} deleted.`);
                    await refresh();
                    document.getElementById('accounts-caption')?.focus();
                  } catch (error) {
                    showError(listAlert, error);
                  }
                }),
              ),
          },
        ],
      }),
    );
  }

  const create = formCard({
    title: 'Add an account',
    fields: [
      field({ name: 'id', label: 'Account ID', hint: 'The 12-digit AWS account id.', inputmode: 'numeric' }),
      field({ name: 'name', label: 'Name', hint: 'Up to 50 characters.' }),
      field({ name: 'email', label: 'Email', type: 'email', hint: "The account's root email address." }),
      field({ name: 'organizationalUnit', label: 'Organizational unit', optional: true }),
      field({ name: 'signInUrl', label: 'Sign-in URL', optional: true, type: 'url', hint: "Where the console sign-in assertion is posted; AWS's sign-in endpoint when empty." }),
      tagsField(),
    ],
    submitLabel: 'Add account',
    submit: async (form) => {
      const body = { id: valueOf(form, 'id'), name: valueOf(form, 'name'), email: valueOf(form, 'email'), tags: parseTags(valueOf(form, 'tags')) };
      optional(body, 'organizationalUnit', valueOf(form, 'organizationalUnit'));
      optional(body, 'signInUrl', valueOf(form, 'signInUrl'));
      const account = await api('POST', '/accounts', body);
      form.reset();
      await refresh();
      return `Account ${accountLabel(account)} added.`;
    },
  });
  append(page, h('p', { class: 'intro' }, 'The AWS accounts people can be given access to, each with a permission set.'), listAlert, listRegion, create);
  await refresh();
}

/** Permission sets: list, create, delete. */
async function permissionSetsPage({ page }) {
  const listRegion = h('div');
  const listAlert = h('div', { class: 'alert', role: 'alert' });

  async function refresh() {
    const result = await load(listRegion, () => api('GET', '/permission-sets'));
    if (!result) return;
    append(
      listRegion,
      table({
        caption: `Permission sets (${result.permissionSets.length})`,
        captionId: 'permission-sets-caption',
        empty: 'No permission sets yet.',
        rows: result.permissionSets,
        columns: [
          { label: 'Name', cell: (p) => h('strong', {}, p.name) },
          { label: 'Description', cell: (p) => p.description || '—' },
          { label: 'Session duration', cell: (p) => p.sessionDuration },
          {
            label: 'Policies',
            cell: (p) => {
              const items = [
                ...p.managedPolicies.map((arn) => h('li', {}, h('span', { class: 'mono' }, arn))),
                ...(p.customerManagedPolicies ?? []).map((c) => h('li', {}, `Customer managed: ${c.path}${c.name}`)),
                p.inlinePolicy ? h('li', {}, 'Inline policy') : null,
              ].filter(Boolean);
              return items.length > 0 ? h('ul', {}, items) : 'None';
            },
          },
          {
            label: 'Actions',
            cell: (p) =>
              deleteButton(p.name, async () => {
                listAlert.textContent = '';
                if (!(await confirmAction({ title: 'Delete permission set?', message: `Delete the permission set ${p.name}? Permission sets with assignments cannot be deleted.` }))) return;
                try {
                  await api('DELETE', `/permission-sets/${segment(p.id)}`);
                  flash.say(`Permission set ${p.name} deleted.`);
                  await refresh();
                  document.getElementById('permission-sets-caption')?.focus();
                } catch (error) {
                  showError(listAlert, error);
                }
              }),
          },
        ],
      }),
    );
  }

  const create = formCard({
    title: 'Create a permission set',
    fields: [
      field({ name: 'name', label: 'Name', hint: '1 to 32 letters, digits and +=,.@_- (it cannot be changed later).' }),
      field({ name: 'description', label: 'Description', optional: true, rows: 2 }),
      field({ name: 'sessionDuration', label: 'Session duration', value: 'PT1H', hint: 'ISO-8601, from PT1H to PT12H (e.g. PT4H, PT8H30M).' }),
      field({ name: 'relayState', label: 'Relay state', optional: true, hint: 'Where the AWS console opens, e.g. https://console.aws.amazon.com/s3/' }),
      field({ name: 'managedPolicies', label: 'AWS managed policies', optional: true, rows: 3, mono: true, hint: 'One ARN per line, e.g. arn:aws:iam::aws:policy/ReadOnlyAccess' }),
      field({ name: 'inlinePolicy', label: 'Inline policy', optional: true, rows: 8, mono: true, hint: 'A JSON policy document: {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", …}]}' }),
      tagsField(),
    ],
    submitLabel: 'Create permission set',
    submit: async (form) => {
      const body = { name: valueOf(form, 'name'), sessionDuration: valueOf(form, 'sessionDuration'), managedPolicies: lines(valueOf(form, 'managedPolicies')), tags: parseTags(valueOf(form, 'tags')) };
      optional(body, 'description', valueOf(form, 'description'));
      optional(body, 'relayState', valueOf(form, 'relayState'));
      optional(body, 'inlinePolicy', valueOf(form, 'inlinePolicy'));
      const created = await api('POST', '/permission-sets', body);
      form.reset();
      await refresh();
      return `Permission set ${created.name} created.`;
    },
  });
  append(page, h('p', { class: 'intro' }, 'What people may do in an account: AWS managed policies and an inline policy, provisioned into each account it is assigned with.'), listAlert, listRegion, create);
  await refresh();
}

const NAME_ID_FORMATS = [
  { value: 'persistent', label: 'Persistent (default)' },
  { value: 'emailAddress', label: 'Email address' },
  { value: 'unspecified', label: 'Unspecified' },
  { value: 'transient', label: 'Transient' },
];

const signResponseField = () =>
  checkbox({ name: 'signResponse', label: 'Sign the Response too', hint: 'The assertion is always signed; some service providers also require a signature on the Response (it costs a second signature).' });

/** Applications: list, add by hand or from SP metadata, delete. */
async function applicationsPage({ page }) {
  const listRegion = h('div');
  const listAlert = h('div', { class: 'alert', role: 'alert' });

  async function refresh() {
    const result = await load(listRegion, () => api('GET', '/applications'));
    if (!result) return;
    append(
      listRegion,
      table({
        caption: `Applications (${result.applications.length})`,
        captionId: 'applications-caption',
        empty: 'No applications yet.',
        rows: result.applications,
        columns: [
          { label: 'Name', cell: (a) => h('strong', {}, a.name) },
          { label: 'Entity ID', cell: (a) => h('span', { class: 'mono' }, a.entityId) },
          { label: 'ACS URLs', cell: (a) => h('ul', {}, a.acsUrls.map((url) => h('li', {}, h('span', { class: 'mono' }, url)))) },
          { label: 'Name ID', cell: (a) => a.nameIdFormat },
          { label: 'Signed requests', cell: (a) => (a.signingCertificate ? 'Required' : 'No') },
          { label: 'Signed Response', cell: (a) => (a.signResponse ? 'Yes' : 'No') },
          { label: 'Logout URL', cell: (a) => (a.logoutUrl ? h('span', { class: 'mono' }, a.logoutUrl) : '—') },
          {
            label: 'Actions',
            cell: (a) =>
              h(
                'div',
                { class: 'actions' },
                h('a', { href: `#/access?${new URLSearchParams({ application: a.id })}` }, 'Who can reach', hidden(` ${a.name}`)),
                deleteButton(a.name, async () => {
                  listAlert.textContent = '';
                  if (!(await confirmAction({ title: 'Delete application?', message: `Delete the application ${a.name}? Applications with assignments cannot be deleted.` }))) return;
                  try {
                    await api('DELETE', `/applications/${segment(a.id)}`);
                    flash.say(`Application ${a.name} deleted.`);
                    await refresh();
                    document.getElementById('applications-caption')?.focus();
                  } catch (error) {
                    showError(listAlert, error);
                  }
                }),
              ),
          },
        ],
      }),
    );
  }

  const metadataField = field({ name: 'metadata', label: 'SP metadata XML', rows: 8, mono: true, hint: 'Paste the EntityDescriptor, or choose the file below. DOCTYPEs and entities are refused.' });
  const fileId = uid('metadata-file');
  const fileStatus = h('p', { class: 'hint', role: 'status' });
  const fileInput = h('input', {
    id: fileId,
    type: 'file',
    accept: '.xml,application/xml,text/xml,application/samlmetadata+xml',
    onchange: async () => {
      const file = fileInput.files && fileInput.files[0];
      if (!file) return;
      if (file.size > 2 * 1024 * 1024) {
        fileStatus.textContent = `${file.name} is larger than 2 MiB.`;
        return;
      }
      metadataField.control.value = await file.text();
      fileStatus.textContent = `Loaded ${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB) into the field above.`;
    },
  });
  const fromMetadata = formCard({
    title: 'Add from SP metadata',
    intro: 'The entity ID, ACS URLs (HTTP-POST), name ID format, certificates and logout URL (HTTP-Redirect) are read from the metadata.',
    fields: [
      field({ name: 'name', label: 'Name' }),
      field({ name: 'description', label: 'Description', optional: true }),
      metadataField,
      h('div', { class: 'field' }, h('label', { for: fileId }, 'Or upload the metadata file'), fileInput, fileStatus),
      signResponseField(),
    ],
    submitLabel: 'Add from metadata',
    submit: async (form) => {
      const application = optional({ name: valueOf(form, 'name') }, 'description', valueOf(form, 'description'));
      if (checked(form, 'signResponse')) application.signResponse = true;
      const created = await api('POST', '/applications/from-metadata', { metadata: metadataField.control.value, application });
      form.reset();
      fileStatus.textContent = '';
      await refresh();
      return `Application ${created.name} added (entity ID ${created.entityId}).`;
    },
  });
  const byHand = formCard({
    title: 'Add by hand',
    fields: [
      field({ name: 'name', label: 'Name' }),
      field({ name: 'description', label: 'Description', optional: true }),
      field({ name: 'entityId', label: 'Entity ID', hint: "The service provider's entity ID (the audience of its assertions)." }),
      field({ name: 'acsUrls', label: 'ACS URLs', rows: 2, mono: true, hint: 'One per line, the default first; https (http only on loopback).' }),
      field({ name: 'nameIdFormat', label: 'Name ID format', options: NAME_ID_FORMATS }),
      field({ name: 'startUrl', label: 'Start URL', optional: true, type: 'url', hint: 'Where the portal sends people to start (service-provider initiated).' }),
      field({ name: 'sessionDuration', label: 'Session duration', value: 'PT1H', hint: 'ISO-8601, from PT15M to PT12H.' }),
      field({ name: 'logoutUrl', label: 'Logout URL', optional: true, type: 'url', hint: "The service provider's single-logout URL (HTTP-Redirect): where Portico answers its LogoutRequest." }),
      signResponseField(),
    ],
    submitLabel: 'Add application',
    submit: async (form) => {
      const body = {
        name: valueOf(form, 'name'),
        entityId: valueOf(form, 'entityId'),
        acsUrls: lines(valueOf(form, 'acsUrls')),
        nameIdFormat: valueOf(form, 'nameIdFormat'),
        sessionDuration: valueOf(form, 'sessionDuration'),
        signResponse: checked(form, 'signResponse'),
      };
      optional(body, 'description', valueOf(form, 'description'));
      optional(body, 'startUrl', valueOf(form, 'startUrl'));
      optional(body, 'logoutUrl', valueOf(form, 'logoutUrl'));
      const created = await api('POST', '/applications', body);
      form.reset();
      await refresh();
      return `Application ${created.name} added.`;
    },
  });
  append(page, h('p', { class: 'intro' }, 'SAML service providers that people sign in to through Portico.'), listAlert, listRegion, h('div', { class: 'grid-2' }, fromMetadata, byHand));
  await refresh();
}

const KEY_STATES = {
  current: { label: 'Current', note: 'Signs now', tone: 'ok' },
  next: { label: 'Next', note: 'Published, does not sign yet', tone: 'neutral' },
  previous: { label: 'Previous', note: 'Published, no longer signs', tone: 'neutral' },
};

/** Identity provider: where service providers find Portico, and the rotation of its signing key. */
async function identityProviderPage({ page }) {
  const region = h('div');
  append(page, h('p', { class: 'intro' }, 'Portico as a SAML identity provider. Give service providers the metadata URL: it carries the entity ID, both endpoints and the signing certificates.'), region);
  const idp = await load(region, () => api('GET', '/saml'));
  if (!idp) return;
  const next = idp.certificates.find((c) => c.state === 'next');
  const previous = idp.certificates.find((c) => c.state === 'previous');
  const here = '#/identity-provider';
  const mono = (text) => h('span', { class: 'mono' }, text);

  const copy = field({ name: 'metadataUrl', label: 'Metadata URL, to copy', value: idp.metadataUrl });
  copy.control.readOnly = true;
  copy.control.addEventListener('focus', () => copy.control.select());

  const alert = h('div', { class: 'alert', role: 'alert' });
  /** Runs a rotation step, then shows the page again with what changed. */
  async function step(work) {
    alert.textContent = '';
    try {
      navigate(here, await work());
    } catch (error) {
      showError(alert, error);
    }
  }
  const stage = h('button', {
    type: 'button',
    onclick: () =>
      void step(async () => {
        const staged = await api('POST', '/saml/certificates', {});
        return `Next key staged (SHA-256 ${staged.sha256}). It is in the metadata now: activate it once every service provider has read the metadata again.`;
      }),
  }, 'Stage next key');
  const activate = h('button', {
    type: 'button',
    onclick: async () => {
      alert.textContent = '';
      const message = `Sign with the next key (SHA-256 ${next.sha256}) from now on? Service providers that have not read the metadata since it was staged will refuse the signatures. The current key stays in the metadata as the previous one.`;
      if (!(await confirmAction({ title: 'Activate the next key?', message, confirm: 'Activate next key' }))) return;
      await step(async () => {
        const activated = await api('POST', '/saml/certificates/activate');
        return `The next key signs now (SHA-256 ${activated.sha256}). Retire the previous key once every service provider has the current one.`;
      });
    },
  }, 'Activate next key');
  const retire = h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      alert.textContent = '';
      const message = `Remove the previous key (SHA-256 ${previous.sha256}) from the metadata? It no longer signs; its private key is deleted.`;
      if (!(await confirmAction({ title: 'Retire the previous key?', message, confirm: 'Retire previous key' }))) return;
      await step(async () => {
        const retired = await api('DELETE', '/saml/certificates/previous');
        return `Previous key retired (SHA-256 ${retired.sha256}): it is no longer in the metadata.`;
      });
    },
  }, 'Retire previous key');

  const ownKey = formCard({
    title: 'Stage your own key',
    intro: 'Instead of a generated one: an unencrypted RSA private key of 2048 bits or more and its certificate, not expired, both PEM.',
    fields: [
      field({ name: 'keyPem', label: 'Private key (PEM)', rows: 6, mono: true, hint: '-----BEGIN PRIVATE KEY----- … It is sealed in the database and never shown again.' }),
      field({ name: 'certificatePem', label: 'Certificate (PEM)', rows: 6, mono: true, hint: '-----BEGIN CERTIFICATE----- …' }),
    ],
    submitLabel: 'Stage this key',
    submit: async (form) => {
      const body = { keyPem: valueOf(form, 'keyPem'), certificatePem: valueOf(form, 'certificatePem') };
      if (body.keyPem === '') throw new InputError('keyPem: paste the private key', 'keyPem');
      if (body.certificatePem === '') throw new InputError('certificatePem: paste the certificate', 'certificatePem');
      const staged = await api('POST', '/saml/certificates', body);
      navigate(here, `Your key is staged as the next key (SHA-256 ${staged.sha256}). It is in the metadata now: activate it once every service provider has read the metadata again.`);
    },
  });

  append(
    region,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'idp-endpoints' },
      h('h2', { id: 'idp-endpoints' }, 'Endpoints'),
      summary([
        ['Entity ID', mono(idp.entityId)],
        ['Metadata', h('a', { href: idp.metadataUrl, class: 'mono' }, idp.metadataUrl)],
        ['Single sign-on (HTTP-Redirect, HTTP-POST)', mono(idp.ssoUrl)],
        ['Single logout (HTTP-Redirect)', mono(idp.sloUrl)],
      ]),
      h('div', { class: 'copy' }, copy),
    ),
    table({
      caption: `Signing certificates (${idp.certificates.length})`,
      captionId: 'certificates-caption',
      empty: 'No signing certificate.',
      rows: idp.certificates,
      columns: [
        { label: 'State', cell: (c) => h('span', {}, badge(KEY_STATES[c.state].label, KEY_STATES[c.state].tone), h('span', { class: 'path' }, KEY_STATES[c.state].note)) },
        { label: 'SHA-256', cell: (c) => mono(c.sha256) },
        { label: 'Not after', cell: (c) => time(c.notAfter) },
        { label: 'Added', cell: (c) => time(c.createdAt) },
      ],
    }),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'idp-rotation' },
      h('h2', { id: 'idp-rotation' }, 'Rotate the signing key'),
      h(
        'ol',
        { class: 'steps' },
        h('li', {}, h('strong', {}, 'Stage'), ' a next key: it is published in the metadata beside the current one; nothing else changes.'),
        h('li', {}, 'Let every service provider read the metadata again (some do it on their own, others need it uploaded).'),
        h('li', {}, h('strong', {}, 'Activate'), ' it: the next key signs; the old one stays in the metadata as the previous key.'),
        h('li', {}, h('strong', {}, 'Retire'), ' the previous key: it leaves the metadata.'),
      ),
      h(
        'p',
        {},
        next
          ? 'A next key is staged: activate it once every service provider has read the metadata again.'
          : previous
            ? 'The previous key is still in the metadata: retire it once every service provider has the current one.'
            : 'Only the current key is published.',
      ),
      alert,
      h('div', { class: 'actions' }, next ? null : stage, next ? activate : null, previous ? retire : null),
    ),
    next ? null : ownKey,
  );
}

/**
 * The principal picker: a combobox that asks AD (GET /directory/principals) as you type, with
 * a listbox of users and groups. Arrow keys move, Enter chooses, Escape closes.
 */
function principalPicker() {
  const inputId = uid('principal');
  const listId = uid('principal-options');
  const hintId = uid('principal-hint');
  const typeId = uid('principal-type');
  const typeSelect = h('select', { id: typeId, name: 'principalType' }, h('option', { value: '' }, 'Users and groups'), h('option', { value: 'user' }, 'Users only'), h('option', { value: 'group' }, 'Groups only'));
  const input = h('input', {
    id: inputId,
    name: 'principal',
    type: 'text',
    role: 'combobox',
    'aria-autocomplete': 'list',
    'aria-expanded': 'false',
    'aria-controls': listId,
    'aria-describedby': hintId,
    autocomplete: 'off',
    autocapitalize: 'none',
    spellcheck: 'false',
  });
  const list = h('ul', { id: listId, role: 'listbox', 'aria-label': 'Matching users and groups', hidden: true });
  const count = h('p', { class: 'hint', role: 'status' });
  const chosenText = h('p', { class: 'chosen' });
  const state = { chosen: null, options: [], active: -1, timer: 0, controller: null, seq: 0 };

  const optionId = (index) => `${listId}-${index}`;
  function open() {
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }
  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    state.active = -1;
  }
  function highlight(index) {
    state.active = index;
    for (const [i, item] of [...list.children].entries()) item.setAttribute('aria-selected', String(i === index));
    if (index < 0) {
      input.removeAttribute('aria-activedescendant');
      return;
    }
    input.setAttribute('aria-activedescendant', optionId(index));
    list.children[index]?.scrollIntoView({ block: 'nearest' });
  }
  function choose(principal) {
    // Distribution groups carry no access in AD: shown, never chosen (the API refuses them too).
    if (principal.grantsAccess === false) {
      count.textContent = `${principal.name} is a distribution group: it grants no access. Choose a security group.`;
      return;
    }
    state.chosen = principal;
    input.value = principal.name;
    close();
    chosenText.textContent = `Chosen: ${principal.type} ${principal.name}${principal.displayName ? ` (${principal.displayName})` : ''}.`;
    input.removeAttribute('aria-invalid');
  }
  function showOptions(principals, more) {
    state.options = principals;
    list.replaceChildren(
      ...principals.map((p, index) =>
        h(
          'li',
          { id: optionId(index), role: 'option', 'aria-selected': 'false', ...(p.grantsAccess === false ? { 'aria-disabled': 'true' } : {}), onclick: () => choose(p) },
          h('span', { class: 'kind' }, p.type === 'group' ? 'Group' : 'User'),
          ' ',
          p.type === 'user' && p.displayName ? `${p.displayName} — ${p.name}` : p.name,
          p.type === 'user' && p.mail && p.mail !== p.name ? h('span', { class: 'secondary-text' }, p.mail) : null,
          p.grantsAccess === false ? h('span', { class: 'secondary-text' }, 'distribution group — grants no access') : null,
        ),
      ),
    );
    if (principals.length > 0) open();
    else close();
    count.textContent = principals.length === 0 ? 'No user or group matches.' : `${principals.length} match${principals.length === 1 ? '' : 'es'}${more ? '; there are more: keep typing to narrow them' : ''}. Use the arrow keys and Enter, or click, to choose.`;
  }
  async function search() {
    const q = input.value.trim();
    state.controller?.abort();
    if (q === '') {
      close();
      list.replaceChildren();
      count.textContent = '';
      return;
    }
    const controller = new AbortController();
    state.controller = controller;
    const seq = ++state.seq;
    count.textContent = 'Searching…';
    const query = new URLSearchParams({ q, limit: '10' });
    if (typeSelect.value) query.set('type', typeSelect.value);
    try {
      const result = await api('GET', `/directory/principals?${query}`, undefined, { signal: controller.signal });
      if (seq === state.seq) showOptions(result.principals, result.more);
    } catch (error) {
      if (error && error.name === 'AbortError') return;
      if (seq !== state.seq) return;
      close();
      count.textContent = '';
      showError(pickerAlert, error);
    }
  }
  function schedule() {
    clearTimeout(state.timer);
    state.timer = setTimeout(() => void search(), 200);
  }
  input.addEventListener('input', () => {
    pickerAlert.textContent = '';
    if (state.chosen) {
      state.chosen = null;
      chosenText.textContent = '';
    }
    schedule();
  });
  typeSelect.addEventListener('change', () => {
    if (!state.chosen && input.value.trim() !== '') schedule();
  });
  input.addEventListener('keydown', (event) => {
    const n = state.options.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (n === 0) return;
      event.preventDefault();
      if (list.hidden) open();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      highlight(state.active < 0 ? (step === 1 ? 0 : n - 1) : (state.active + step + n) % n);
    } else if (event.key === 'Enter') {
      if (!list.hidden && state.active >= 0 && state.options[state.active]) {
        event.preventDefault();
        choose(state.options[state.active]);
      }
    } else if (event.key === 'Escape') {
      if (!list.hidden) {
        event.preventDefault();
        close();
      }
    }
  });
  // Clicking an option must not take the focus from the input first.
  list.addEventListener('mousedown', (event) => event.preventDefault());
  input.addEventListener('blur', () => close());

  const pickerAlert = h('div', { class: 'alert', role: 'alert' });
  const element = h(
    'fieldset',
    { class: 'picker' },
    h('legend', {}, 'Who'),
    h('div', { class: 'field' }, h('label', { for: typeId }, 'Search for'), typeSelect),
    h(
      'div',
      { class: 'field' },
      h('label', { for: inputId }, 'User or group'),
      h('p', { id: hintId, class: 'hint' }, 'Type the start of a name, UPN, sAMAccountName or email: users and groups are read from Active Directory as you type.'),
      pickerAlert,
      input,
      list,
      count,
      chosenText,
    ),
  );
  return {
    element,
    input,
    chosen: () => state.chosen,
    reset() {
      state.chosen = null;
      input.value = '';
      chosenText.textContent = '';
      count.textContent = '';
      list.replaceChildren();
      close();
    },
  };
}

/** Assignments: list, create (target + a principal chosen with the live picker), delete. */
async function assignmentsPage({ page }) {
  const listRegion = h('div');
  const listAlert = h('div', { class: 'alert', role: 'alert' });
  const formRegion = h('div');
  append(page, h('p', { class: 'intro' }, 'Who gets what: an Active Directory user or group (members of nested groups included) × an account with a permission set, or an application.'), listAlert, listRegion, formRegion);
  const catalog = await load(formRegion, loadCatalog);
  if (!catalog) return;

  function targetNode(target) {
    if (target.type === 'account') {
      const account = catalog.account(target.accountId);
      return h('span', {}, h('span', { class: 'kind' }, 'Account'), ' ', account ? accountLabel(account) : target.accountId);
    }
    const application = catalog.application(target.applicationId);
    return h('span', {}, h('span', { class: 'kind' }, 'App'), ' ', application ? application.name : target.applicationId);
  }
  const describeTarget = (target) =>
    target.type === 'account'
      ? `account ${catalog.account(target.accountId)?.name ?? target.accountId} with ${catalog.permissionSet(target.permissionSetId)?.name ?? target.permissionSetId}`
      : `application ${catalog.application(target.applicationId)?.name ?? target.applicationId}`;

  async function refresh() {
    const result = await load(listRegion, () => api('GET', '/assignments'));
    if (!result) return;
    const rows = [...result.assignments].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    append(
      listRegion,
      table({
        caption: `Assignments (${rows.length})`,
        captionId: 'assignments-caption',
        empty: 'No assignments yet.',
        rows,
        columns: [
          { label: 'Who', cell: (a) => principalNode(a.principal) },
          { label: 'Target', cell: (a) => targetNode(a.target) },
          { label: 'Permission set', cell: (a) => (a.target.type === 'account' ? (catalog.permissionSet(a.target.permissionSetId)?.name ?? a.target.permissionSetId) : '—') },
          { label: 'Assigned', cell: (a) => time(a.createdAt) },
          {
            label: 'Actions',
            cell: (a) =>
              deleteButton(`${a.principal.name} from ${describeTarget(a.target)}`, async () => {
                listAlert.textContent = '';
                const message = `Remove the assignment of ${a.principal.type} ${a.principal.name} to ${describeTarget(a.target)}? Its members lose this access.`;
                if (!(await confirmAction({ title: 'Remove assignment?', message, confirm: 'Remove' }))) return;
                try {
                  await api('DELETE', `/assignments/${segment(a.id)}`);
                  flash.say(`Assignment of ${a.principal.name} to ${describeTarget(a.target)} removed.`);
                  await refresh();
                  document.getElementById('assignments-caption')?.focus();
                } catch (error) {
                  showError(listAlert, error);
                }
              }),
          },
        ],
      }),
    );
  }

  const none = (what) => [{ value: '', label: `No ${what} yet`, disabled: true }];
  const accountField = field({ name: 'accountId', label: 'Account', options: catalog.accounts.length ? catalog.accounts.map((a) => ({ value: a.id, label: accountLabel(a) })) : none('accounts') });
  const setField = field({ name: 'permissionSetId', label: 'Permission set', options: catalog.permissionSets.length ? catalog.permissionSets.map((p) => ({ value: p.id, label: p.name })) : none('permission sets') });
  const appField = field({ name: 'applicationId', label: 'Application', options: catalog.applications.length ? catalog.applications.map((a) => ({ value: a.id, label: a.name })) : none('applications') });
  const kindName = uid('target-kind');
  const radio = (value, label, checked) => {
    const id = uid('target-kind');
    return h('div', { class: 'choice' }, h('input', { type: 'radio', id, name: kindName, value, checked, onchange: syncKind }), h('label', { for: id }, label));
  };
  const accountChoice = radio('account', 'An AWS account, with a permission set', true);
  const appChoice = radio('application', 'An application', false);
  function kind() {
    return accountChoice.querySelector('input').checked ? 'account' : 'application';
  }
  function syncKind() {
    const account = kind() === 'account';
    accountField.hidden = !account;
    setField.hidden = !account;
    appField.hidden = account;
  }
  syncKind();
  const picker = principalPicker();

  const create = formCard({
    title: 'Assign a user or group',
    fields: [
      h('fieldset', {}, h('legend', {}, 'To what'), accountChoice, appChoice, accountField, setField, appField),
      picker.element,
      catalog.accounts.length === 0 || catalog.permissionSets.length === 0
        ? h('p', { class: 'hint' }, 'Accounts need a permission set: add them on the ', h('a', { href: '#/accounts' }, 'Accounts'), ' and ', h('a', { href: '#/permission-sets' }, 'Permission sets'), ' pages.')
        : null,
    ],
    submitLabel: 'Assign',
    submit: async (form) => {
      const principal = picker.chosen();
      if (!principal) throw new InputError(picker.input.value.trim() === '' ? 'principal: type a name, then choose a user or group from the list' : `principal: choose a user or group from the list (nothing is chosen for "${picker.input.value.trim()}")`, 'principal');
      const target =
        kind() === 'account'
          ? { type: 'account', accountId: valueOf(form, 'accountId'), permissionSetId: valueOf(form, 'permissionSetId') }
          : { type: 'application', applicationId: valueOf(form, 'applicationId') };
      const result = await api('POST', '/assignments', { principal: { type: principal.type, id: principal.guid }, target });
      picker.reset();
      await refresh();
      return `Assigned ${result.assignment.principal.type} ${result.assignment.principal.name} to ${describeTarget(result.assignment.target)}.${result.provisioned ? ' The permission set was provisioned into the account.' : ''}`;
    },
  });
  fill(formRegion, create);
  await refresh();
}

/** Access: what a user can reach (read from AD now), and who can reach an account or application. */
async function accessPage({ page, params }) {
  const userResult = h('div');
  const whoResult = h('div');
  const catalogRegion = h('div');
  const userField = field({ name: 'user', label: 'User', hint: 'UPN, DOMAIN\\name or objectGUID; group memberships are read from Active Directory now.', value: params.get('user') ?? '' });

  async function explain(name) {
    userResult.replaceChildren();
    const result = await api('GET', `/access/users/${segment(name)}`);
    const who = result.user.userName;
    const accountRows = result.entitlements.accounts.flatMap((a) => a.permissionSets.map((p) => ({ account: a.account, permissionSet: p.permissionSet, grants: p.grants })));
    const grants = (list) => (list.length === 1 ? grantNode(list[0]) : h('ul', {}, list.map((g) => h('li', {}, grantNode(g)))));
    fill(
      userResult,
      h('h3', {}, `${who}${result.user.displayName ? ` (${result.user.displayName})` : ''}`),
      result.entitlements.groupsTruncated ? h('p', { class: 'warning' }, 'This user is in more groups than are evaluated: assignments to the rest are not counted.') : null,
      table({
        caption: `Accounts ${who} can reach (${result.entitlements.accounts.length}, with ${accountRows.length} permission set${accountRows.length === 1 ? '' : 's'})`,
        empty: 'No accounts.',
        rows: accountRows,
        columns: [
          { label: 'Account', cell: (r) => `${r.account.name} (${r.account.id})` },
          { label: 'Permission set', cell: (r) => r.permissionSet.name },
          { label: 'Granted through', cell: (r) => grants(r.grants) },
        ],
      }),
      table({
        caption: `Applications ${who} can reach (${result.entitlements.applications.length})`,
        empty: 'No applications.',
        rows: result.entitlements.applications,
        columns: [
          { label: 'Application', cell: (r) => r.application.name },
          { label: 'Granted through', cell: (r) => grants(r.grants) },
        ],
      }),
      h(
        'details',
        {},
        h('summary', {}, `Groups of ${who} (${result.groups.length})`),
        table({
          caption: `Groups of ${who}, with the path from a group they are directly in`,
          empty: 'In no group.',
          rows: result.groups,
          columns: [
            { label: 'Group', cell: (g) => g.qualifiedName },
            { label: 'Path', cell: (g) => (g.path.length > 1 ? pathText(g.path, g.qualifiedName) : 'Direct member') },
          ],
        }),
      ),
    );
  }

  async function whoCanReach(value, catalog) {
    whoResult.replaceChildren();
    const [type, ...rest] = value.split(':');
    const id = rest.join(':');
    if (!id) throw new InputError('choose an account or an application', 'target');
    const result = await api('GET', `/${type === 'application' ? 'applications' : 'accounts'}/${segment(id)}/access`);
    const name = type === 'application' ? (catalog.application(id)?.name ?? id) : catalog.account(id) ? accountLabel(catalog.account(id)) : id;
    const rows = result.users.flatMap((u) => u.grants.map((g) => ({ user: u, grant: g })));
    const columns = [
      { label: 'User', cell: (r) => h('span', {}, r.user.userName ?? h('span', { class: 'mono' }, r.user.guid), r.user.userName ? h('span', { class: 'path' }, h('a', { href: `#/access?${new URLSearchParams({ user: r.user.userName })}` }, 'Explain', hidden(` ${r.user.userName}`))) : null) },
      { label: 'Display name', cell: (r) => r.user.displayName ?? '—' },
      ...(type === 'application' ? [] : [{ label: 'Permission set', cell: (r) => r.grant.permissionSet?.name ?? '—' }]),
      { label: 'Granted through', cell: (r) => grantNode(r.grant.grant) },
    ];
    fill(
      whoResult,
      result.groupsTruncated ? h('p', { class: 'warning' }, 'A group has more nested groups than are evaluated: the list may be incomplete.') : null,
      result.unnamedUsers > 0 ? h('p', { class: 'warning' }, `${result.unnamedUsers} of ${result.users.length} people are shown by objectGUID only: names are looked up for the first 500.`) : null,
      table({
        caption: `Who can reach ${type === 'application' ? 'application' : 'account'} ${name} (${result.users.length} ${result.users.length === 1 ? 'person' : 'people'})`,
        captionId: 'who-caption',
        empty: 'Nobody: there is no assignment, or the assigned groups are empty.',
        rows,
        columns,
      }),
    );
  }

  const explainCard = formCard({
    title: 'What can a user reach?',
    fields: [userField],
    submitLabel: 'Explain',
    submit: async (form) => {
      const name = valueOf(form, 'user');
      if (name === '') throw new InputError('user: required', 'user');
      remember(`#/access?${new URLSearchParams({ user: name })}`);
      await explain(name);
      return null;
    },
  });
  append(explainCard, userResult);
  append(page, h('p', { class: 'intro' }, 'Access is evaluated from assignments and Active Directory group membership, nested groups included, with the path of groups that grants it.'), explainCard, catalogRegion);

  const catalog = await load(catalogRegion, loadCatalog);
  if (catalog) {
    const targetId = uid('target');
    const select = h(
      'select',
      { id: targetId, name: 'target' },
      h('option', { value: '' }, 'Choose…'),
      h('optgroup', { label: 'Accounts' }, catalog.accounts.map((a) => h('option', { value: `account:${a.id}` }, accountLabel(a)))),
      h('optgroup', { label: 'Applications' }, catalog.applications.map((a) => h('option', { value: `application:${a.id}` }, a.name))),
    );
    const initial = params.get('account') ? `account:${params.get('account')}` : params.get('application') ? `application:${params.get('application')}` : '';
    setDefault(select, initial);
    const whoCard = formCard({
      title: 'Who can reach an account or application?',
      fields: [h('div', { class: 'field' }, h('label', { for: targetId }, 'Account or application'), select)],
      submitLabel: 'Show who can reach it',
      submit: async () => {
        const [type, ...rest] = select.value.split(':');
        if (select.value !== '') remember(`#/access?${new URLSearchParams({ [type]: rest.join(':') })}`);
        await whoCanReach(select.value, catalog);
        return null;
      },
    });
    append(whoCard, whoResult);
    fill(catalogRegion, whoCard);
    if (initial !== '') {
      try {
        await whoCanReach(initial, catalog);
      } catch (error) {
        showError(whoCard.querySelector('[role="alert"]'), error);
      }
    }
  }
  if (userField.control.value.trim() !== '') {
    try {
      await explain(userField.control.value.trim());
    } catch (error) {
      showError(explainCard.querySelector('[role="alert"]'), error);
    }
  }
}

// The current names of src/audit/actions.ts (the filter also accepts the legacy names listed there).
const AUDIT_ACTIONS = [
  'access.account.created', 'access.account.updated', 'access.account.deleted',
  'access.permission_set.created', 'access.permission_set.updated', 'access.permission_set.deleted',
  'access.application.created', 'access.application.updated', 'access.application.deleted',
  'access.assignment.created', 'access.assignment.deleted',
  'admin.bootstrap_token.issued', 'admin.bootstrap_token.disabled', 'admin.request.refused',
  'auth.user.signed_in', 'auth.password.changed', 'auth.throttle.cleared', 'session.signed_out', 'session.revoked',
  'identity.mappings.saved', 'identity.mappings.checked',
  'identity.user.provisioned', 'identity.user.reprovisioned', 'identity.user.updated', 'identity.user.removed',
  'identity_source.changed', 'identity_source.updated',
  'identitystore.api.refused', 'identitystore.credential.created', 'identitystore.credential.revoked',
  'directory.connection.checked', 'directory.trust.validated',
  'directory.managed.user.created', 'directory.managed.user.updated', 'directory.managed.user.deleted', 'directory.managed.user.password_set',
  'directory.managed.user.enabled', 'directory.managed.user.disabled', 'directory.managed.user.unlocked',
  'directory.managed.group.created', 'directory.managed.group.deleted', 'directory.managed.group.member_added', 'directory.managed.group.member_removed',
  'directory.managed.ou.created', 'directory.managed.ou.deleted',
  'saml.request.received', 'saml.assertion.issued', 'saml.aws_assertion.issued', 'saml.logout.handled',
  'saml.key.staged', 'saml.key.activated', 'saml.key.retired',
];

/** Audit log: newest first, filtered by action, paged with `before`. */
async function auditPage({ page, params }) {
  const listId = uid('audit-actions');
  const results = h('div');
  const pager = h('div', { class: 'pager' });
  const actionField = field({ name: 'action', label: 'Action', optional: true, value: params.get('action') ?? '', list: listId, hint: 'The exact action, e.g. access.account.created. Empty: every action.' });
  const sizeField = field({ name: 'limit', label: 'Events per page', options: ['10', '25', '50', '100'].map((n) => ({ value: n, label: n })), value: params.get('limit') ?? '25' });
  let pageNumber = 1;
  let alert;

  async function show(action, limit, before) {
    const query = new URLSearchParams({ limit });
    if (action) query.set('action', action);
    if (before) query.set('before', before);
    const { events } = await api('GET', `/audit?${query}`);
    fill(
      results,
      table({
        caption: `Audit events${action ? ` “${action}”` : ''}, newest first — page ${pageNumber}`,
        captionId: 'audit-caption',
        empty: pageNumber === 1 ? 'No events.' : 'No older events.',
        rows: events,
        columns: [
          { label: 'When', cell: (e) => time(e.occurredAt) },
          { label: 'Actor', cell: (e) => e.actor },
          { label: 'Action', cell: (e) => h('code', {}, e.action) },
          { label: 'Target', cell: (e) => e.target ?? '—' },
          { label: 'Outcome', cell: (e) => h('span', {}, badge(e.outcome === 'success' ? 'Success' : 'Failure', e.outcome === 'success' ? 'ok' : 'bad'), e.errorCode ? h('span', { class: 'path mono' }, e.errorCode) : null) },
          {
            label: 'Details',
            cell: (e) => (Object.keys(e.details ?? {}).length === 0 ? '—' : h('details', {}, h('summary', {}, 'Details', hidden(` of ${e.action} at ${e.occurredAt}`)), h('pre', {}, JSON.stringify(e.details, null, 2)))),
          },
        ],
      }),
    );
    const last = events[events.length - 1];
    fill(
      pager,
      pageNumber > 1 ? h('button', { type: 'button', class: 'secondary', onclick: () => void go(action, limit, null, 1) }, 'Newest events') : null,
      events.length === Number(limit) && last ? h('button', { type: 'button', class: 'secondary', onclick: () => void go(action, limit, last.id, pageNumber + 1) }, 'Older events') : null,
    );
  }
  async function go(action, limit, before, number) {
    alert.textContent = '';
    pageNumber = number;
    try {
      await show(action, limit, before);
      document.getElementById('audit-caption')?.focus();
    } catch (error) {
      showError(alert, error);
    }
  }

  const filter = formCard({
    title: 'Filter',
    fields: [h('datalist', { id: listId }, AUDIT_ACTIONS.map((a) => h('option', { value: a }))), h('div', { class: 'grid-2' }, actionField, sizeField)],
    submitLabel: 'Show events',
    submit: async (form) => {
      const action = valueOf(form, 'action');
      const limit = valueOf(form, 'limit');
      const query = new URLSearchParams();
      if (action) query.set('action', action);
      if (limit !== '25') query.set('limit', limit);
      remember(`#/audit${query.size ? `?${query}` : ''}`);
      pageNumber = 1;
      await show(action, limit, null);
      return null;
    },
  });
  alert = filter.querySelector('[role="alert"]');
  append(page, h('p', { class: 'intro' }, 'Every change and sign-in, with who did it and, for changes, the record before and after.'), filter, results, pager);
  try {
    await show(actionField.control.value.trim(), sizeField.control.value, null);
  } catch (error) {
    showError(alert, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Throttled sign-ins

// 'name': counted by the spelling typed, because it designates no account.
const THROTTLE_KINDS = { account: 'Account', name: 'User name as typed', address: 'Client address' };

/** "14 min", "45 s": how long until the next attempt is allowed. */
function waitText(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  return seconds >= 120 ? `${Math.ceil(seconds / 60)} min` : `${seconds} s`;
}

/** Failed sign-ins Portico holds back (per account, unknown name and client address), with a clear button each. */
async function throttlePage({ page }) {
  const here = '#/throttle';
  const alert = h('div', { class: 'alert', role: 'alert' });
  const region = h('div');
  append(
    page,
    h('p', { class: 'intro' }, 'Accounts, user names and client addresses with recent failed sign-ins. Past the limit, Portico refuses their attempts before they reach Active Directory until the oldest failure leaves the window, so that nobody can lock AD accounts through Portico. Clearing lets them try again now; it does not unlock an account that Active Directory itself has locked.'),
    alert,
    region,
  );
  const found = await load(region, () => api('GET', '/throttle'));
  if (!found) return;

  function clearButton(entry) {
    return h('button', {
      type: 'button',
      class: 'secondary small',
      onclick: async () => {
        alert.textContent = '';
        const message = `Forget the ${entry.failures} failed sign-in${entry.failures === 1 ? '' : 's'} of ${entry.label}? ${entry.kind === 'address' ? 'Sign-ins from this address' : 'This user'} can try again at once. The change is recorded in the audit log.`;
        if (!(await confirmAction({ title: 'Clear failed sign-ins?', message, confirm: 'Clear' }))) return;
        try {
          const { cleared } = await api('POST', '/throttle/clear', { target: entry.key });
          navigate(here, `Cleared the failed sign-ins of ${cleared.map((c) => c.label).join(', ')}.`);
        } catch (error) {
          showError(alert, error);
        }
      },
    }, 'Clear', hidden(` ${entry.label}`));
  }

  const throttled = found.entries.filter((entry) => entry.throttled).length;
  append(
    region,
    table({
      caption: `Recent failed sign-ins (${found.entries.length}; ${throttled} throttled)`,
      empty: 'No recent failed sign-ins.',
      rows: found.entries,
      columns: [
        { label: 'Who', cell: (e) => h('span', {}, e.label, e.key === e.label ? null : h('span', { class: 'path mono' }, e.key)) },
        { label: 'Kind', cell: (e) => THROTTLE_KINDS[e.kind] ?? e.kind },
        { label: 'Failures', cell: (e) => `${e.failures} of ${e.maxFailures}` },
        { label: 'State', cell: (e) => (e.throttled ? badge('Throttled', 'bad') : badge('Counting', 'neutral')) },
        { label: 'Retry after', cell: (e) => (e.throttled ? h('span', {}, waitText(e.retryAfterSeconds), ' (', time(e.throttledUntil), ')') : '—') },
        { label: 'Last failure', cell: (e) => time(e.lastFailureAt) },
        { label: 'Actions', hideLabel: true, cell: (e) => clearButton(e) },
      ],
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Routing and start-up

const ROUTES = {
  directory: { title: 'Directory', render: directoryPage },
  mappings: { title: 'Attribute mappings', render: mappingsPage },
  users: { title: 'Users', render: usersPage },
  accounts: { title: 'Accounts', render: accountsPage },
  'permission-sets': { title: 'Permission sets', render: permissionSetsPage },
  applications: { title: 'Applications', render: applicationsPage },
  'identity-provider': { title: 'Identity provider', render: identityProviderPage },
  assignments: { title: 'Assignments', render: assignmentsPage },
  access: { title: 'Access', render: accessPage },
  audit: { title: 'Audit log', render: auditPage },
  throttle: { title: 'Throttled sign-ins', render: throttlePage },
};

function parseHash() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : 'directory';
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const params = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  const segments = path.split('/').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  return { segments: segments[0] === '' ? ['directory'] : segments, params };
}

let pageSlot = null;

async function render({ focus }) {
  const { segments, params } = parseHash();
  const route = Object.hasOwn(ROUTES, segments[0]) ? ROUTES[segments[0]] : null;
  const title = route ? route.title : 'Page not found';
  const heading = h('h1', { tabindex: '-1' }, title);
  const page = h('div', { id: 'page' }, heading);
  pageSlot.replaceWith(page);
  pageSlot = page;
  document.title = `${title} · Portico console`;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${segments[0]}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (pendingFlash) flash.say(pendingFlash);
  else flash.clear();
  pendingFlash = null;
  if (focus) heading.focus();
  if (!route) {
    append(page, h('p', {}, 'There is no console page here. ', h('a', { href: '#/directory' }, 'Go to the directory page.')));
    return;
  }
  try {
    await route.render({ page, heading, segments, params });
  } catch (error) {
    append(page, showErrorNode(error));
  }
}

function showErrorNode(error) {
  const alert = h('div', { class: 'alert', role: 'alert' });
  showError(alert, error);
  return alert;
}

async function signOut() {
  try {
    await fetch('/api/sign-out', { method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin', body: '{}' });
  } finally {
    leaving = true;
    location.assign('/sign-in');
  }
}

/** Someone signed in who is not in an administrators group. */
function showNotAdmin(message) {
  document.title = 'Not an administrator · Portico console';
  fill(
    pageSlot,
    h('h1', {}, 'Not an administrator'),
    h('p', { class: 'alert', role: 'alert' }, message),
    h('p', {}, 'The console is for members of the administrators groups configured in Portico (admin.groups). Ask an administrator to add you to one in Active Directory, then sign in again.'),
    h('div', { class: 'actions' }, h('a', { href: '/' }, 'Go to your portal page'), h('button', { type: 'button', class: 'secondary', onclick: () => void signOut() }, 'Sign out')),
  );
}

async function start() {
  flash.element = document.getElementById('flash');
  pageSlot = document.getElementById('page');
  document.getElementById('sign-out').addEventListener('click', () => void signOut());
  document.getElementById('skip').addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main').focus();
  });
  let me;
  try {
    me = await api('GET', '/me');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    if (error instanceof ApiError && error.status === 403) {
      showNotAdmin(error.message);
      return;
    }
    fill(pageSlot, h('h1', {}, 'The console could not start'), showErrorNode(error), h('button', { type: 'button', onclick: () => location.reload() }, 'Try again'));
    return;
  }
  document.getElementById('actor').textContent = me.actor;
  document.getElementById('who').hidden = false;
  document.getElementById('nav').hidden = false;
  window.addEventListener('hashchange', () => {
    if (location.hash === '' || location.hash.startsWith('#/')) void render({ focus: true });
  });
  await render({ focus: false });
}

void start();
