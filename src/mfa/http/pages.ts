/**
 * The second-step pages: server-rendered, no JavaScript needed for authenticator-app, RADIUS and
 * recovery codes. Same look and CSP as the sign-in pages. Every interpolated value is escaped.
 */
import { createHash } from 'node:crypto';
import { escapeHtml, renderPageShell } from '#src/platform/http/page-shell.ts';

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a;background:#f3f4f6}
main{max-width:28rem;margin:3rem auto;padding:1.5rem;background:#fff;border:1px solid #d1d5db;border-radius:8px}
@media (max-width:30rem){main{margin:0;border:0;border-radius:0;min-height:100vh}}
h1{font-size:1.5rem;margin:0 0 1rem}
h2{font-size:1.1rem;margin:1.5rem 0 .25rem}
label{display:block;font-weight:600;margin-top:1rem}
input{display:block;width:100%;margin-top:.25rem;padding:.6rem;font:inherit;border:1px solid #6b7280;border-radius:4px}
input:focus,button:focus,a:focus,summary:focus{outline:3px solid #2563eb;outline-offset:1px}
.hint{margin:.25rem 0 0;color:#4b5563;font-size:.875rem}
button{margin-top:1rem;width:100%;padding:.7rem;font:inherit;font-weight:600;color:#fff;background:#1d4ed8;border:0;border-radius:4px;cursor:pointer}
.alert{margin:0 0 1rem;padding:.75rem;border-left:4px solid #b91c1c;background:#fef2f2;color:#7f1d1d}
.alert:empty{display:none}
.qr svg{display:block;width:100%;max-width:14rem;height:auto;margin:.5rem auto}
.secret{font-family:ui-monospace,monospace;word-break:break-all;background:#f3f4f6;padding:.5rem;border-radius:4px}
.codes{font-family:ui-monospace,monospace;columns:2;padding-left:1.25rem}
details{margin-top:1.5rem}
a.button{display:block;margin-top:1rem;padding:.7rem;text-align:center;font-weight:600;color:#fff;background:#1d4ed8;border-radius:4px;text-decoration:none}
`.trim();

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** Scripts only from Portico itself (the passkey button); forms and requests to this origin only. */
export const MFA_PAGE_CSP = ["default-src 'none'", `style-src 'sha256-${STYLE_HASH}'`, "script-src 'self'", "connect-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');

export const MFA_ASSETS_PATH = '/mfa/assets';
const SCRIPTS = `<script src="${MFA_ASSETS_PATH}/simplewebauthn-browser.js" defer></script>\n<script src="${MFA_ASSETS_PATH}/webauthn.js" defer></script>`;

const layout = (title: string, body: string, scripts = false): string => renderPageShell({ title, head: `<style>${STYLE}</style>${scripts ? `\n${SCRIPTS}` : ''}`, body });

/** The passkey button: hidden until the script finds WebAuthn in the browser. */
function passkeySection(action: 'authenticate' | 'register', csrf: string, returnTo: string): string {
  const label = action === 'authenticate' ? 'Use a passkey or security key' : 'Register a passkey or security key';
  const name = action === 'register' ? '\n<label for="passkey-name">Passkey name</label>\n<input id="passkey-name" type="text" maxlength="64" value="Passkey" autocomplete="off">' : '';
  return `<section id="passkey-section" hidden>${action === 'register' ? '\n<h2>Or a passkey or security key</h2>' : ''}${name}
<button type="button" id="passkey" data-action="${action}" data-csrf="${escapeHtml(csrf)}" data-return-to="${escapeHtml(returnTo)}">${label}</button>
</section>`;
}

function hidden(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('\n');
}

export interface VerifyPageModel {
  csrf: string;
  returnTo: string;
  error: string | null;
  totp: boolean;
  radius: boolean;
  radiusPrompt?: string | null;
  radiusState?: string | null;
  recovery: boolean;
  webauthn: boolean;
  /** The CSRF token of the passkey requests. */
  webauthnCsrf?: string;
  /** Why this page asks (a step-up's requirement). */
  notice?: string;
}

export function renderVerifyPage(model: VerifyPageModel): string {
  const error = `<div id="mfa-error" class="alert" role="alert">${model.error === null ? '' : escapeHtml(model.error)}</div>`;
  const invalid = model.error === null ? '' : ' aria-invalid="true" aria-describedby="mfa-error"';
  const forms: string[] = [];
  if (model.webauthn) forms.push(passkeySection('authenticate', model.webauthnCsrf ?? '', model.returnTo));
  if (model.totp) {
    forms.push(`<form method="post" action="/mfa">
${hidden({ csrf: model.csrf, returnTo: model.returnTo, kind: 'totp' })}
<label for="totp-code">Code from your authenticator app</label>
<input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus${invalid}>
<p class="hint">The 6-digit code your app shows for Portico.</p>
<button type="submit">Verify</button>
</form>`);
  }
  if (model.radius) {
    const prompt = model.radiusPrompt ?? 'One-time code';
    forms.push(`<form method="post" action="/mfa">
${hidden({ csrf: model.csrf, returnTo: model.returnTo, kind: 'radius', ...(model.radiusState ? { radiusState: model.radiusState } : {}) })}
<label for="radius-code">${escapeHtml(prompt)}</label>
<input id="radius-code" name="code" type="text" autocomplete="one-time-code" maxlength="128" required${model.totp ? '' : ' autofocus'}${invalid}>
<button type="submit">Verify</button>
</form>`);
  }
  if (model.recovery) {
    const form = `<form method="post" action="/mfa">
${hidden({ csrf: model.csrf, returnTo: model.returnTo, kind: 'recovery' })}
<label for="recovery-code">Recovery code</label>
<input id="recovery-code" name="code" type="text" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="32" required${model.totp || model.radius ? '' : ' autofocus'}>
<p class="hint">One of the codes you saved when you registered. Each works once.</p>
<button type="submit">Use recovery code</button>
</form>`;
    forms.push(model.totp || model.radius ? `<details><summary>Use a recovery code instead</summary>\n${form}\n</details>` : form);
  }
  if (forms.length === 0) forms.push('<p>No second factor you can use is registered. Ask your administrator to reset your MFA devices.</p>');
  const notice = model.notice === undefined ? '' : `<p>${escapeHtml(model.notice)}</p>\n`;
  return layout(model.error === null ? 'Verify it is you' : 'Error: verify it is you', `<h1>Verify it is you</h1>\n${error}\n${notice}${forms.join('\n')}\n<p><a href="/sign-in">Sign in as someone else</a></p>`, model.webauthn);
}

export interface EnrolPageModel {
  csrf: string;
  returnTo: string;
  error: string | null;
  deviceId: string;
  secret: string;
  qrSvg: string;
  /** Shown when registration is required to sign in. */
  required: boolean;
  /** Offer a passkey or security key too (the policy allows WebAuthn). */
  webauthn: boolean;
  webauthnCsrf?: string;
  /** Authenticator apps allowed (otherwise only the passkey button). */
  totp: boolean;
}

export function renderEnrolPage(model: EnrolPageModel): string {
  const grouped = model.secret.replace(/(.{4})/g, '$1 ').trim();
  const invalid = model.error === null ? '' : ' aria-invalid="true" aria-describedby="mfa-error"';
  return layout(
    model.error === null ? 'Set up an authenticator app' : 'Error: set up an authenticator app',
    `<h1>Set up an authenticator app</h1>
<div id="mfa-error" class="alert" role="alert">${model.error === null ? '' : escapeHtml(model.error)}</div>
${model.required ? '<p>Your organisation requires a second factor. Register an authenticator app to continue.</p>' : ''}
${model.totp ? `<p>Scan this QR code with your authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP, 1Password…).</p>
<div class="qr" role="img" aria-label="QR code of the authenticator secret">${model.qrSvg}</div>
<p>Or enter this key by hand (time-based, 6 digits, SHA-1). It is shown only now:</p>
<p class="secret" id="totp-secret">${escapeHtml(grouped)}</p>
<form method="post" action="/mfa/enrol">
${hidden({ csrf: model.csrf, returnTo: model.returnTo, deviceId: model.deviceId })}
<label for="device-name">Device name</label>
<input id="device-name" name="name" type="text" maxlength="64" value="Authenticator app" autocomplete="off">
<label for="totp-code">Code from the app</label>
<input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required autofocus${invalid}>
<button type="submit">Register</button>
</form>` : ''}
${model.webauthn ? passkeySection('register', model.webauthnCsrf ?? '', model.returnTo) : ''}`,
    model.webauthn,
  );
}

export function renderRecoveryCodesPage({ codes, continueTo }: { codes: string[]; continueTo: string }): string {
  return layout(
    'Save your recovery codes',
    `<h1>Save your recovery codes</h1>
<p>If you lose your device, each of these codes signs you in once. Keep them somewhere safe: they are shown only now.</p>
<ul class="codes" id="recovery-codes">${codes.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>
<a class="button" id="continue" href="${escapeHtml(continueTo)}">I saved them — continue</a>`,
  );
}

export function renderMfaMessagePage({ title, message, link }: { title: string; message: string; link?: { href: string; text: string } }): string {
  const action = link === undefined ? '' : `\n<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>`;
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>${action}`);
}

export interface DevicesPageModel {
  csrf: string;
  devices: Array<{ id: string; type: string; name: string; createdAt: string; lastUsedAt: string | null }>;
  recoveryCodes: number;
  maxDevices: number;
  notice: string | null;
  newRecoveryCodes: string[] | null;
}

const day = (iso: string | null): string => (iso === null ? 'never' : iso.slice(0, 16).replace('T', ' ') + ' UTC');

export function renderDevicesPage(model: DevicesPageModel): string {
  const rows = model.devices
    .map(
      (d) => `<li><strong>${escapeHtml(d.name)}</strong> (${d.type === 'totp' ? 'authenticator app' : 'passkey or security key'})<br><span class="hint">registered ${escapeHtml(day(d.createdAt))}, last used ${escapeHtml(day(d.lastUsedAt))}</span>
<form method="post" action="/mfa/devices/rename">${hidden({ csrf: model.csrf, deviceId: d.id })}<label for="name-${escapeHtml(d.id)}">New name for ${escapeHtml(d.name)}</label><input id="name-${escapeHtml(d.id)}" name="name" type="text" maxlength="64" required autocomplete="off" value="${escapeHtml(d.name)}"><button type="submit" aria-label="Rename ${escapeHtml(d.name)}">Rename</button></form>
<form method="post" action="/mfa/devices/remove">${hidden({ csrf: model.csrf, deviceId: d.id })}<button type="submit" aria-label="Remove ${escapeHtml(d.name)}">Remove</button></form></li>`,
    )
    .join('\n');
  const codes = model.newRecoveryCodes === null ? '' : `<h2>Your new recovery codes</h2>\n<p>Shown only now; the old ones no longer work.</p>\n<ul class="codes" id="recovery-codes">${model.newRecoveryCodes.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>`;
  return layout(
    'MFA devices',
    `<h1>MFA devices</h1>
<div id="mfa-notice" role="status">${model.notice === null ? '' : escapeHtml(model.notice)}</div>
${codes}
<ul id="devices">${rows === '' ? '<li>No device registered.</li>' : rows}</ul>
<p>${model.devices.length} of at most ${model.maxDevices} devices. ${model.recoveryCodes} unused recovery code${model.recoveryCodes === 1 ? '' : 's'}.</p>
${model.devices.length < model.maxDevices ? '<p><a class="button" href="/mfa/enrol?returnTo=%2Fmfa%2Fdevices">Register another device</a></p>' : ''}
<form method="post" action="/mfa/devices/recovery-codes">${hidden({ csrf: model.csrf })}<button type="submit">New recovery codes</button></form>
<p><a href="/portal">Back to the portal</a></p>`,
  );
}
