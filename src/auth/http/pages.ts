/**
 * The server-rendered pages of sign-in: no JavaScript, no images, one small inline stylesheet
 * allowed by its hash in the Content-Security-Policy. Every interpolated value is escaped.
 */
import { createHash } from 'node:crypto';
import { escapeHtml, renderPageShell } from '#src/platform/http/page-shell.ts';

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f3f4f6}
main{max-width:26rem;margin:3rem auto;padding:1.5rem;background:#fff;border:1px solid #d1d5db;border-radius:8px}
@media (max-width:30rem){main{margin:0;border:0;border-radius:0;min-height:100vh}}
h1{font-size:1.5rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin-top:1rem}
input{display:block;width:100%;margin-top:.25rem;padding:.6rem;font:inherit;border:1px solid #6b7280;border-radius:4px}
input:focus,button:focus{outline:3px solid #2563eb;outline-offset:1px}
.hint{margin:.25rem 0 0;color:#4b5563;font-size:.875rem}
button{margin-top:1.5rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:4px;cursor:pointer}
.alert{margin:0 0 1rem;padding:.75rem;border-left:4px solid #b91c1c;background:#fef2f2;color:#7f1d1d}
.alert:empty{display:none}
`.trim();

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** The policy of every page here: nothing but this stylesheet, forms posting to this origin, never framed. */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export { escapeHtml };

function layout(title: string, body: string): string {
  return renderPageShell({ title, head: `<style>${STYLE}</style>`, body });
}

/** A page in the sign-in look (under PAGE_CSP) for other faces that ask the person something, e.g. the device verification page; `body` is HTML already escaped. */
export const renderSignInLookPage = layout;

export interface SignInPageModel {
  csrfField: string;
  returnTo: string;
  /** Kept after a failed attempt; the password never is. */
  username: string;
  error: string | null;
  /** A link to the password page under the error (expired or must-change passwords, on the managed directory). */
  changePasswordHref?: string | null;
  /** A fresh authentication was asked for (prompt=login): no remembered device skips MFA. */
  force?: boolean;
}

export function renderSignInPage({ csrfField, returnTo, username, error, changePasswordHref = null, force = false }: SignInPageModel): string {
  const describedBy = error === null ? 'username-hint' : 'sign-in-error username-hint';
  const invalid = error === null ? '' : ' aria-invalid="true"';
  // The password field gets the focus after a failure, since the user name is kept.
  const focusUser = username === '' ? ' autofocus' : '';
  const focusPassword = username === '' ? '' : ' autofocus';
  return layout(
    error === null ? 'Sign in' : 'Error: sign in',
    `<h1>Sign in</h1>
<div id="sign-in-error" class="alert" role="alert">${error === null ? '' : escapeHtml(error)}</div>${changePasswordHref === null ? '' : `\n<p><a href="${escapeHtml(changePasswordHref)}">Change your password</a></p>`}
<form method="post" action="/sign-in">
<input type="hidden" name="csrf" value="${escapeHtml(csrfField)}">
<input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">${force ? '\n<input type="hidden" name="prompt" value="login">' : ''}
<label for="username">User name</label>
<input id="username" name="username" type="text" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" required maxlength="1024" aria-describedby="${describedBy}"${invalid}${focusUser}>
<p id="username-hint" class="hint">Your work account, e.g. name@example.com or DOMAIN\\name</p>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"${error === null ? '' : ' aria-describedby="sign-in-error"'}${invalid}${focusPassword}>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function renderSignedInPage({ userName, displayName, csrfField }: { userName: string; displayName: string | null; csrfField: string }): string {
  const who = displayName === null || displayName === '' ? escapeHtml(userName) : `${escapeHtml(displayName)} (${escapeHtml(userName)})`;
  return layout(
    'Signed in',
    `<h1>Portico</h1>
<p>Signed in as ${who}.</p>
<form method="post" action="/sign-out">
<input type="hidden" name="csrf" value="${escapeHtml(csrfField)}">
<button type="submit">Sign out</button>
</form>`,
  );
}

export function renderMessagePage({ title, message, link }: { title: string; message: string; link?: { href: string; text: string } }): string {
  const action = link === undefined ? '' : `\n<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>`;
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>${action}`);
}

/** An informational page (no error): a title, one paragraph, an optional link. */
export function renderNoticePage({ title, message, link }: { title: string; message: string; link?: { href: string; text: string } }): string {
  const action = link === undefined ? '' : `\n<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>`;
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p>${escapeHtml(message)}</p>${action}`);
}

export interface ChangePasswordPageModel {
  csrfField: string;
  /** Kept after a failed attempt; the passwords never are. */
  username: string;
  error: string | null;
}

/** What the managed directory's default policy asks (AD's defaults); the directory has the last word and names the rule it applies. */
const POLICY_HINT = 'At least 7 characters, with three of: capital letters, small letters, digits, symbols. Not your user name, and not a password you used recently.';

export function renderChangePasswordPage({ csrfField, username, error }: ChangePasswordPageModel): string {
  const invalid = error === null ? '' : ' aria-invalid="true"';
  const errorRef = error === null ? '' : 'change-password-error ';
  const focusUser = username === '' ? ' autofocus' : '';
  const focusCurrent = username === '' ? '' : ' autofocus';
  return layout(
    error === null ? 'Change your password' : 'Error: change your password',
    `<h1>Change your password</h1>
<div id="change-password-error" class="alert" role="alert">${error === null ? '' : escapeHtml(error)}</div>
<form method="post" action="/change-password">
<input type="hidden" name="csrf" value="${escapeHtml(csrfField)}">
<label for="username">User name</label>
<input id="username" name="username" type="text" value="${escapeHtml(username)}" autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false" required maxlength="1024" aria-describedby="username-hint"${focusUser}>
<p id="username-hint" class="hint">Your work account, e.g. name@example.com or DOMAIN\\name</p>
<label for="current-password">Current password</label>
<input id="current-password" name="currentPassword" type="password" autocomplete="current-password" required maxlength="1024"${error === null ? '' : ' aria-describedby="change-password-error"'}${invalid}${focusCurrent}>
<label for="new-password">New password</label>
<input id="new-password" name="newPassword" type="password" autocomplete="new-password" required maxlength="256" aria-describedby="${errorRef}new-password-hint"${invalid}>
<p id="new-password-hint" class="hint">${escapeHtml(POLICY_HINT)}</p>
<label for="confirm-password">Confirm new password</label>
<input id="confirm-password" name="confirmPassword" type="password" autocomplete="new-password" required maxlength="256">
<button type="submit">Change password</button>
</form>
<p><a href="/sign-in">Back to sign-in</a></p>`,
  );
}
