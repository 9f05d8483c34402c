/**
 * Portico's administrator console, a Preact application built by Vite into dist/console/ (see
 * vite.config.mts) and served by src/console/routes.ts under a strict CSP. Every page reads and
 * writes through the admin API (/admin/api) with the administrator's portal session; the API
 * validates everything and its error messages are shown as they are. Pages are chosen by the URL's
 * hash (#/accounts, #/users/<id>, #/access?account=<id>), so links and the back button work.
 * One file per page in pages/; the shared pieces are in ui.tsx, the typed API client in api.ts.
 */
import './console.css';
import type { ComponentType } from 'preact';
import { render } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText, markLeaving } from './api.ts';
import { AccessPage } from './pages/access.tsx';
import { AccountsPage } from './pages/accounts.tsx';
import { ApplicationsPage } from './pages/applications.tsx';
import { AssignmentsPage } from './pages/assignments.tsx';
import { AuditPage } from './pages/audit.tsx';
import { AwsPage } from './pages/aws.tsx';
import { DirectoryPage } from './pages/directory.tsx';
import { DirectoryUsersPage } from './pages/directory-users.tsx';
import { IdentityProviderPage } from './pages/identity-provider.tsx';
import { MappingsPage } from './pages/mappings.tsx';
import { OidcApplicationsPage } from './pages/oidc-applications.tsx';
import { MfaPage } from './pages/mfa.tsx';
import { MfaDevicesPage } from './pages/mfa-devices.tsx';
import { PermissionSetsPage } from './pages/permission-sets.tsx';
import { SyncPage } from './pages/sync.tsx';
import { ThrottlePage } from './pages/throttle.tsx';
import { AppCredentialsPage } from './pages/app-credentials.tsx';
import { UsersPage } from './pages/users.tsx';
import type { PageProps } from './page.ts';
import { Alert, ConfirmDialog, FlashRegion, flash, onNavigateSame } from './ui.tsx';

interface Route {
  title: string;
  page: ComponentType<PageProps>;
}

const ROUTES: Readonly<Record<string, Route>> = {
  directory: { title: 'Directory', page: DirectoryPage },
  mappings: { title: 'Attribute mappings', page: MappingsPage },
  users: { title: 'Users', page: UsersPage },
  'directory-users': { title: 'Directory users', page: DirectoryUsersPage },
  accounts: { title: 'Accounts', page: AccountsPage },
  'permission-sets': { title: 'Permission sets', page: PermissionSetsPage },
  applications: { title: 'Applications', page: ApplicationsPage },
  'oidc-applications': { title: 'OIDC applications', page: OidcApplicationsPage },
  'identity-provider': { title: 'Identity provider', page: IdentityProviderPage },
  aws: { title: 'AWS provisioning', page: AwsPage },
  assignments: { title: 'Assignments', page: AssignmentsPage },
  access: { title: 'Access', page: AccessPage },
  audit: { title: 'Audit log', page: AuditPage },
  sync: { title: 'AD sync', page: SyncPage },
  throttle: { title: 'Throttled sign-ins', page: ThrottlePage },
  mfa: { title: 'MFA policy', page: MfaPage },
  'mfa-devices': { title: 'MFA devices', page: MfaDevicesPage },
  'app-credentials': { title: 'IdentityStore API keys', page: AppCredentialsPage },
};

/** The menu, in order; "Directory users" only when Portico runs its own directory. */
const MENU: ReadonlyArray<[string, string]> = [
  ['directory', 'Directory'],
  ['mappings', 'Attribute mappings'],
  ['users', 'Users'],
  ['directory-users', 'Directory users'],
  ['accounts', 'Accounts'],
  ['permission-sets', 'Permission sets'],
  ['applications', 'Applications'],
  ['oidc-applications', 'OIDC applications'],
  ['identity-provider', 'Identity provider'],
  ['aws', 'AWS provisioning'],
  ['assignments', 'Assignments'],
  ['access', 'Access'],
  ['audit', 'Audit log'],
  ['sync', 'AD sync'],
  ['throttle', 'Throttled sign-ins'],
  ['mfa', 'MFA policy'],
  ['mfa-devices', 'MFA devices'],
  ['app-credentials', 'IdentityStore API keys'],
];

function parseHash(): { segments: string[]; params: URLSearchParams } {
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

async function signOut(): Promise<void> {
  try {
    await fetch('/api/sign-out', { method: 'POST', headers: { 'content-type': 'application/json' }, credentials: 'same-origin', body: '{}' });
  } finally {
    markLeaving();
    location.assign('/sign-in');
  }
}

type Start = { state: 'starting' } | { state: 'ready'; actor: string; managed: boolean } | { state: 'not-admin'; message: string } | { state: 'failed'; message: string } | { state: 'leaving' };

/** One page: its heading (which takes the focus after navigation), then the page's component. */
function PageView({ focus, managed }: { focus: boolean; managed: boolean }) {
  const { segments, params } = parseHash();
  const name = segments[0] ?? 'directory';
  const route = Object.hasOwn(ROUTES, name) && (name !== 'directory-users' || managed) ? ROUTES[name] : undefined;
  const title = route?.title ?? 'Page not found';
  const [heading, setHeading] = useState(title);
  const headingRef = useRef<HTMLHeadingElement>(null);
  // In the same frame as the page appears: a keyboard user's next Tab starts from the heading.
  useLayoutEffect(() => {
    document.title = `${title} · Portico console`;
    flash.showPending();
    if (focus) headingRef.current?.focus();
  }, []);
  const Page = route?.page;
  return (
    <div id="page">
      <h1 tabIndex={-1} ref={headingRef}>
        {heading}
      </h1>
      {Page ? (
        <Page
          segments={segments}
          params={params}
          setHeading={(text, documentTitle) => {
            setHeading(text);
            document.title = `${documentTitle ?? text} · Portico console`;
          }}
        />
      ) : (
        <p>
          There is no console page here. <a href="#/directory">Go to the directory page.</a>
        </p>
      )}
    </div>
  );
}

function Console() {
  const [start, setStart] = useState<Start>({ state: 'starting' });
  const [view, setView] = useState({ key: 0, focus: false });
  useEffect(() => {
    void (async () => {
      try {
        const me = await api('get', '/me');
        let managed = false;
        try {
          managed = (await api('get', '/directory')).kind === 'managed';
        } catch {
          managed = false;
        }
        setStart({ state: 'ready', actor: me.actor, managed });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) setStart({ state: 'leaving' });
        else if (error instanceof ApiError && error.status === 403) setStart({ state: 'not-admin', message: error.message });
        else setStart({ state: 'failed', message: errorText(error) });
      }
    })();
    const onHash = () => {
      if (location.hash === '' || location.hash.startsWith('#/')) setView((current) => ({ key: current.key + 1, focus: true }));
    };
    onNavigateSame(onHash);
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (start.state === 'not-admin') document.title = 'Not an administrator · Portico console';
  }, [start.state]);

  const ready = start.state === 'ready';
  const current = parseHash().segments[0];
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(event) => {
          event.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <p class="brand">
          <span aria-hidden="true" class="mark">
            P
          </span>{' '}
          Portico <span class="brand-sub">console</span>
        </p>
        {ready ? (
          <div class="who">
            <span>
              Signed in as <strong id="actor">{start.actor}</strong>
            </span>
            <button type="button" class="link light" onClick={() => void signOut()}>
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      <div class="shell">
        {ready ? (
          <nav aria-label="Console sections">
            <ul>
              {MENU.filter(([path]) => path !== 'directory-users' || start.managed).map(([path, label]) => (
                <li>
                  <a href={`#/${path}`} aria-current={current === path ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        ) : null}
        <main id="main" tabIndex={-1}>
          <FlashRegion />
          {start.state === 'ready' ? <PageView key={view.key} focus={view.focus} managed={start.managed} /> : null}
          {start.state === 'starting' || start.state === 'leaving' ? (
            <div id="page">
              <h1>Portico console</h1>
              <p>Loading…</p>
            </div>
          ) : null}
          {start.state === 'not-admin' ? (
            <div id="page">
              <h1>Not an administrator</h1>
              <p class="alert" role="alert">
                {start.message}
              </p>
              <p>The console is for members of the administrators groups configured in Portico (admin.groups). Ask an administrator to add you to one in Active Directory, then sign in again.</p>
              <div class="actions">
                <a href="/">Go to your portal page</a>
                <button type="button" class="secondary" onClick={() => void signOut()}>
                  Sign out
                </button>
              </div>
            </div>
          ) : null}
          {start.state === 'failed' ? (
            <div id="page">
              <h1>The console could not start</h1>
              <Alert message={start.message} />
              <button type="button" onClick={() => location.reload()}>
                Try again
              </button>
            </div>
          ) : null}
        </main>
      </div>
      <ConfirmDialog />
    </>
  );
}

const root = document.getElementById('root');
if (root) {
  root.replaceChildren();
  render(<Console />, root);
}
