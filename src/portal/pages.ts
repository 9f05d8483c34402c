/**
 * The portal's server-rendered pages: the start page (accounts → permission sets → console or
 * command line, and application tiles), the page that carries a SAML Response to its
 * destination, command-line instructions, and refusals. They work without JavaScript; the one
 * script (portal.js) adds live search and the automatic POST. Every interpolated value is escaped.
 */
import { escapeHtml, renderPageShell } from '#src/platform/http/page-shell.ts';
import type { PostForm } from '#src/federation/federation.ts';

export const ASSETS_PATH = '/portal/assets';

const base = ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"];
/** Portal pages: this origin's script and stylesheet, forms to this origin only. */
export const PORTAL_CSP = [...base, "form-action 'self'"].join('; ');
/** The POST page submits to the service provider's ACS URL (checked against its registration) or the account's sign-in URL. */
export const POST_PAGE_CSP = base.join('; ');

function layout(title: string, body: string, bodyClass = ''): string {
  return renderPageShell({ title, head: `<link rel="stylesheet" href="${ASSETS_PATH}/portal.css">\n<script src="${ASSETS_PATH}/portal.js" defer></script>`, body, bodyClass });
}

export interface PortalAccount {
  id: string;
  name: string;
  email: string;
  permissionSets: Array<{ id: string; name: string; description: string | undefined }>;
}

export interface PortalApplication {
  id: string;
  name: string;
  description: string | undefined;
}

export interface PortalPageModel {
  userName: string;
  displayName: string | null;
  signOutCsrf: string;
  accounts: PortalAccount[];
  applications: PortalApplication[];
  query: string;
  /** The person is in more groups than are evaluated: some assignments may not count. */
  groupsTruncated: boolean;
}

const matches = (query: string, ...texts: Array<string | undefined>) => query === '' || texts.some((t) => t !== undefined && t.toLowerCase().includes(query));

/** Narrows the model to what matches the search (name, id, email, permission set, description). */
export function searchPortal(model: Pick<PortalPageModel, 'accounts' | 'applications'>, query: string): Pick<PortalPageModel, 'accounts' | 'applications'> {
  const q = query.trim().toLowerCase();
  return {
    accounts: model.accounts.flatMap((account) => {
      if (matches(q, account.name, account.id, account.email)) return [account];
      const permissionSets = account.permissionSets.filter((p) => matches(q, p.name, p.description));
      return permissionSets.length === 0 ? [] : [{ ...account, permissionSets }];
    }),
    applications: model.applications.filter((app) => matches(q, app.name, app.description)),
  };
}

export function renderPortalPage(model: PortalPageModel): string {
  const who = model.displayName ? `${escapeHtml(model.displayName)} (${escapeHtml(model.userName)})` : escapeHtml(model.userName);
  const shown = searchPortal(model, model.query);
  const searchText = (...texts: Array<string | undefined>) => escapeHtml(texts.filter(Boolean).join(' ').toLowerCase());

  const accounts = shown.accounts.map((account) => {
    const roles = account.permissionSets.map((p) => {
      const base = `/portal/accounts/${encodeURIComponent(account.id)}/${encodeURIComponent(p.id)}`;
      return `<li class="role" data-search="${searchText(p.name, p.description)}">
<span class="role-name">${escapeHtml(p.name)}</span>${p.description ? `<span class="role-description">${escapeHtml(p.description)}</span>` : ''}
<span class="role-links"><a href="${base}/console">Management console</a> <a href="${base}/cli">Command line or programmatic access</a></span>
</li>`;
    });
    return `<li class="account" data-search="${searchText(account.name, account.id, account.email)}">
<details${shown.accounts.length === 1 || model.query !== '' ? ' open' : ''}>
<summary><span class="account-name">${escapeHtml(account.name)}</span> <span class="account-id">${escapeHtml(account.id)}</span> <span class="account-email">${escapeHtml(account.email)}</span></summary>
<ul class="roles">
${roles.join('\n')}
</ul>
</details>
</li>`;
  });

  const applications = shown.applications.map(
    (app) => `<li class="app" data-search="${searchText(app.name, app.description)}"><a class="tile" href="/portal/applications/${encodeURIComponent(app.id)}"><span class="app-name">${escapeHtml(app.name)}</span>${
      app.description ? `<span class="app-description">${escapeHtml(app.description)}</span>` : ''
    }</a></li>`,
  );

  const nothingAtAll = model.accounts.length === 0 && model.applications.length === 0;
  const empty = nothingAtAll
    ? '<p class="empty">You have not been given access to any account or application yet. Ask your administrator.</p>'
    : '';
  const noMatch = `<p class="no-match" role="status"${shown.accounts.length + shown.applications.length === 0 && !nothingAtAll ? '' : ' hidden'}>Nothing matches your search.</p>`;

  return layout(
    'Portal',
    `<header class="bar">
<h1>Portico</h1>
<p class="who">Signed in as ${who}. <a href="/mfa/devices">MFA devices</a></p>
<form method="post" action="/sign-out" class="sign-out"><input type="hidden" name="csrf" value="${escapeHtml(model.signOutCsrf)}"><button type="submit">Sign out</button></form>
</header>
${model.groupsTruncated ? '<p class="warning" role="note">You are in more groups than Portico evaluates: some of your access may not be shown.</p>' : ''}
<form class="search" role="search" method="get" action="/portal">
<label for="q">Search accounts and applications</label>
<input id="q" name="q" type="search" value="${escapeHtml(model.query)}" autocomplete="off">
<button type="submit">Search</button>
</form>
${empty}${noMatch}
<section aria-labelledby="accounts-heading"${model.accounts.length === 0 ? ' hidden' : ''}>
<h2 id="accounts-heading">AWS accounts <span class="count">(${model.accounts.length})</span></h2>
<ul class="accounts">
${accounts.join('\n')}
</ul>
</section>
<section aria-labelledby="apps-heading"${model.applications.length === 0 ? ' hidden' : ''}>
<h2 id="apps-heading">Applications <span class="count">(${model.applications.length})</span></h2>
<ul class="apps">
${applications.join('\n')}
</ul>
</section>`,
  );
}

/** The HTTP-POST binding: a form the script submits at once, with a button for browsers without JavaScript. */
export function renderPostPage(form: PostForm, destinationName: string): string {
  const fields = Object.entries(form.fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return layout(
    `Signing in to ${destinationName}`,
    `<h1>Signing in to ${escapeHtml(destinationName)}…</h1>
<form method="post" action="${escapeHtml(form.action)}" data-auto-submit>
${fields}
<noscript><p>JavaScript is off: continue by hand.</p></noscript>
<button type="submit">Continue</button>
</form>`,
  );
}

export interface CliPageModel {
  accountName: string;
  accountId: string;
  permissionSetName: string;
  /** What `aws configure sso` asks for. */
  startUrl: string;
  region: string;
  /** Short-term credentials from STS, or why there are none. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string; expiration: Date; roleArn: string } | { error: string };
}

function copyBlock(id: string, label: string, text: string): string {
  return `<h3 id="${id}-label">${escapeHtml(label)}</h3>
<div class="copy-block"><pre id="${id}" aria-labelledby="${id}-label"><code>${escapeHtml(text)}</code></pre><button type="button" data-copy="${id}" hidden>Copy</button></div>`;
}

/**
 * Command line or programmatic access, as Identity Center shows it: `aws configure sso` values,
 * then short-term credentials (fetched from STS for this role just now) as environment variables
 * for bash and PowerShell and as a credentials-file block.
 */
export function renderCliPage(model: CliPageModel): string {
  const { credentials: c } = model;
  const configure = `<h2>Set up the AWS CLI once (recommended)</h2>
<p>Run <code>aws configure sso</code> and give it these values; afterwards <code>aws sso login</code> signs you in through Portico and every AWS SDK picks up the credentials.</p>
<dl class="facts">
<dt>SSO start URL</dt><dd><code id="start-url">${escapeHtml(model.startUrl)}</code></dd>
<dt>SSO region</dt><dd><code id="sso-region">${escapeHtml(model.region)}</code></dd>
<dt>Account ID</dt><dd><code>${escapeHtml(model.accountId)}</code></dd>
<dt>Role name</dt><dd><code>${escapeHtml(model.permissionSetName)}</code></dd>
</dl>`;
  let short: string;
  if ('error' in c) {
    short = `<h2>Short-term credentials</h2>
<p role="alert" class="alert">Portico could not get credentials for this role: ${escapeHtml(c.error)}</p>`;
  } else {
    const profile = `${model.accountId}_${model.permissionSetName}`.replace(/[^\w.-]/g, '_');
    const bash = [`export AWS_ACCESS_KEY_ID="${c.accessKeyId}"`, `export AWS_SECRET_ACCESS_KEY="${c.secretAccessKey}"`, `export AWS_SESSION_TOKEN="${c.sessionToken}"`].join('\n');
    const powershell = [`$Env:AWS_ACCESS_KEY_ID="${c.accessKeyId}"`, `$Env:AWS_SECRET_ACCESS_KEY="${c.secretAccessKey}"`, `$Env:AWS_SESSION_TOKEN="${c.sessionToken}"`].join('\n');
    const file = [`[${profile}]`, `aws_access_key_id=${c.accessKeyId}`, `aws_secret_access_key=${c.secretAccessKey}`, `aws_session_token=${c.sessionToken}`].join('\n');
    short = `<h2>Short-term credentials</h2>
<p>Valid until <time datetime="${c.expiration.toISOString()}">${escapeHtml(c.expiration.toISOString().replace('T', ' ').slice(0, 16))} UTC</time>, for <code>${escapeHtml(c.roleArn)}</code>. Treat them as a password.</p>
${copyBlock('env-bash', 'macOS and Linux (bash, zsh)', bash)}
${copyBlock('env-powershell', 'Windows PowerShell', powershell)}
${copyBlock('credentials-file', 'AWS credentials file (~/.aws/credentials)', file)}`;
  }
  return layout(
    'Command line access',
    `<p><a href="/portal">← Back to the portal</a></p>
<h1>Command line or programmatic access</h1>
<p><strong>${escapeHtml(model.accountName)}</strong> (${escapeHtml(model.accountId)}) as <strong>${escapeHtml(model.permissionSetName)}</strong></p>
${configure}
${short}`,
  );
}

export function renderRefusalPage(title: string, message: string, status: number): string {
  return layout(
    title,
    `<h1>${escapeHtml(title)}</h1>
<p role="alert" class="alert">${escapeHtml(message)}</p>
<p><a href="/portal">Go to the portal</a></p>`,
    status === 403 ? 'refused' : '',
  );
}

/**
 * An unsigned LogoutRequest from another site: the person decides. The form posts back to Portico
 * with a token bound to their session and to this logout, so no other page can submit it.
 */
export function renderLogoutConfirmPage(applicationName: string, action: string, fields: Record<string, string>): string {
  const hidden = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return layout(
    'Sign out of Portico?',
    `<h1>Sign out of Portico?</h1>
<p>${escapeHtml(applicationName)} asks to sign you out of Portico. Other applications you opened through Portico stay signed in until you sign out of them.</p>
<form method="post" action="${escapeHtml(action)}">
${hidden}
<button type="submit">Sign out</button>
</form>
<p><a href="/portal">Stay signed in</a></p>`,
  );
}

export function renderSignedOutPage(applicationName: string): string {
  return layout('Signed out', `<h1>Signed out</h1>\n<p>${escapeHtml(applicationName)} signed you out of Portico.</p>\n<p><a href="/sign-in">Sign in again</a></p>`);
}
