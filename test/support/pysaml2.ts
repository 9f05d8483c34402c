/**
 * pysaml2 (Debian's python3-pysaml2) as a SAML service provider we did not write, for the
 * federation interoperability tests, through test/federation/pysaml2_sp.py: each call is one JSON
 * document in on the script's stdin (keys included, so nothing secret is on a command line) and
 * one out. One python process serves every call (see Worker).
 *
 * A missing python3, pysaml2 or xmlsec1 throws — `npm test` installs them, and an interop test
 * that quietly skipped would prove nothing.
 *
 *   const sp = pysaml2Sp({ idpMetadata, sp: { entityId, acsUrl, signing } });
 *   const request = await sp.authnRequest({ relayState: 'r' });   // request.url → Portico's SSO URL
 *   const result = await sp.parseResponse(samlResponseBase64, { outstanding: [request.requestId] });
 *   if (!result.ok) console.log(result.errorType, result.error, result.log);
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { refuseInUnitTier } from './tier.ts';

/** The script, resolved from this file so callers may run from any directory. */
export const PYSAML2_SP_SCRIPT = fileURLToPath(new URL('../federation/pysaml2_sp.py', import.meta.url));

/**
 * The interpreter: PORTICO_PYTHON when set, else Debian's /usr/bin/python3 (the one
 * python3-pysaml2 installs into — a python3 earlier on PATH, e.g. pyenv's, does not see it),
 * else python3 from PATH.
 */
export function pysaml2Python(): string {
  refuseInUnitTier('pysaml2 (a service provider in Python)');
  const configured = process.env.PORTICO_PYTHON;
  if (configured) return configured;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

export interface Pysaml2Credential {
  keyPem: string;
  certPem: string;
}

export interface Pysaml2SpConfig {
  entityId: string;
  /** The one AssertionConsumerService (HTTP-POST): Destination and Recipient must equal it. */
  acsUrl: string;
  /** The SingleLogoutService (HTTP-Redirect); LogoutResponse Destination must equal it. */
  sloUrl?: string | undefined;
  /** Signs AuthnRequests and LogoutRequests (query signature, RSA-SHA256). */
  signing?: Pysaml2Credential | undefined;
  /** Decrypts EncryptedAssertion. */
  encryption?: Pysaml2Credential | undefined;
  /** Default true. */
  wantAssertionsSigned?: boolean | undefined;
  /** Default false. */
  wantResponseSigned?: boolean | undefined;
  /** Accept a Response without InResponseTo, or with one not outstanding (IdP-initiated). Default false. */
  allowUnsolicited?: boolean | undefined;
  /** Seconds of clock skew pysaml2 tolerates; default 5. */
  acceptedTimeDiff?: number | undefined;
  /** NameIDPolicy Format of the AuthnRequest; persistent by default. */
  nameIdFormat?: string | undefined;
}

/** What every call needs: the IdP metadata to trust and the SP settings. */
export interface Pysaml2SpSetup {
  /** The IdP metadata XML; its signing certificates are the only keys pysaml2 trusts. */
  idpMetadata: string;
  /** Needed only when the metadata describes several identity providers. */
  idpEntityId?: string | undefined;
  sp: Pysaml2SpConfig;
}

export interface AuthnRequestInput extends Pysaml2SpSetup {
  action: 'authn-request';
  relayState?: string | undefined;
}

export interface ParseResponseInput extends Pysaml2SpSetup {
  action: 'parse-response';
  /** The SAMLResponse form field (base64). */
  samlResponse: string;
  /** AuthnRequest IDs the SP is waiting for; a Response in reply to another one is refused. */
  outstandingRequestIds?: readonly string[] | undefined;
}

export interface Pysaml2NameId {
  value: string;
  format?: string | undefined;
  nameQualifier?: string | undefined;
  spNameQualifier?: string | undefined;
}

export interface LogoutRequestInput extends Pysaml2SpSetup {
  action: 'logout-request';
  nameId: Pysaml2NameId;
  sessionIndexes?: readonly string[] | undefined;
  relayState?: string | undefined;
}

export interface ParseLogoutResponseInput extends Pysaml2SpSetup {
  action: 'parse-logout-response';
  /** The full HTTP-Redirect URL carrying SAMLResponse (its query signature is verified). */
  url: string;
  /** The LogoutRequest ID InResponseTo must name. */
  requestId?: string | undefined;
}

export type Pysaml2Input = AuthnRequestInput | ParseResponseInput | LogoutRequestInput | ParseLogoutResponseInput;

interface Common {
  pysaml2Version: string | null;
}

/** A request pysaml2 made, as the HTTP-Redirect URL to send the browser to. */
export interface RedirectResult extends Common {
  url: string;
  requestId: string;
  relayState: string;
  /** Whether the query carries SigAlg and Signature. */
  signed: boolean;
}

/** pysaml2 refused the message; `log` holds what it logged at WARNING and above. */
export interface Refusal extends Common {
  ok: false;
  /** The Python exception class (SignatureError, UnsolicitedResponse, …) or a harness label. */
  errorType: string;
  error: string;
  log: string[];
}

export interface Pysaml2Attribute {
  name: string;
  nameFormat: string | null;
  friendlyName: string | null;
  values: (string | null)[];
}

export interface AcceptedResponse extends Common {
  ok: true;
  issuer: string;
  nameId: string;
  nameIdFormat: string | null;
  nameQualifier: string | null;
  spNameQualifier: string | null;
  /** pysaml2's attribute-value assertion: names mapped by its attribute maps (e.g. urn:oid:…1.3 → mail), unknown names kept. */
  ava: Record<string, string[]>;
  /** The attributes as they arrived. */
  attributes: Pysaml2Attribute[];
  sessionIndex: string | null;
  authnContextClassRef: string | null;
  /** Response InResponseTo. */
  inResponseTo: string | null;
  /** SubjectConfirmationData InResponseTo. */
  subjectInResponseTo: string | null;
  recipient: string | null;
  audiences: string[];
  /** Epoch seconds: SessionNotOnOrAfter when present, else the assertion's NotOnOrAfter. */
  notOnOrAfter: number;
  responseSigned: boolean;
  assertionSigned: boolean;
  /** The Response carried an EncryptedAssertion (which pysaml2 decrypted). */
  encrypted: boolean;
  /** The value given for the outstanding request (always "/"), null when unsolicited. */
  cameFrom: string | null;
  log: string[];
}

export interface AcceptedLogoutResponse extends Common {
  ok: true;
  issuer: string;
  inResponseTo: string | null;
  destination: string | null;
  status: string | null;
  relayState: string | null;
  signatureVerified: boolean;
  log: string[];
}

export type ParseResponseResult = AcceptedResponse | Refusal;
export type ParseLogoutResponseResult = AcceptedLogoutResponse | Refusal;

export type Pysaml2ResultFor<A extends Pysaml2Input['action']> = A extends 'authn-request' | 'logout-request'
  ? RedirectResult
  : A extends 'parse-response'
    ? ParseResponseResult
    : ParseLogoutResponseResult;

/** Per call; pysaml2 itself answers in well under a second once imported. */
const TIMEOUT_MS = 60_000;

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  action: string;
}

/**
 * One long-lived `pysaml2_sp.py --serve` process answers every call (importing pysaml2 costs about
 * a second: it compiles the SAML schemas). It is started on first use and holds the event loop
 * only while a call is pending, so a test file ends without closing it; its stdin closing when
 * Node exits ends it too. Calls are answered in order, one at a time.
 */
class Worker {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffered = '';
  private stderr = '';
  private failure: Error | undefined;

  constructor(private readonly python: string) {
    this.child = spawn(python, [PYSAML2_SP_SCRIPT, '--serve'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => this.read(chunk));
    this.child.stderr.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-8000);
    });
    this.child.on('error', (error: NodeJS.ErrnoException) => {
      this.fail(
        error.code === 'ENOENT'
          ? new Error(`pysaml2 interop harness: ${python} not found; install Debian's python3, python3-pysaml2 and xmlsec1 (npm test does), or set PORTICO_PYTHON`, { cause: error })
          : new Error(`pysaml2 interop harness: cannot run ${python}: ${error.message}`, { cause: error }),
      );
    });
    this.child.on('close', (code, signal) => {
      const reason = code === 3 ? `pysaml2 is not importable by ${python} (Debian: apt-get install python3-pysaml2 xmlsec1)` : signal ? `killed by ${signal}` : `exit code ${code}`;
      this.fail(new Error(`pysaml2 interop harness stopped (${python} ${PYSAML2_SP_SCRIPT} --serve): ${reason}\n${this.stderr.trim()}`));
    });
    // A child that died before reading its stdin makes the write fail; 'close' reports why.
    this.child.stdin.on('error', () => undefined);
    this.hold(false);
  }

  get alive(): boolean {
    return this.failure === undefined;
  }

  call(input: Pysaml2Input): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new Error(`pysaml2 interop harness: no answer to ${input.action} within ${TIMEOUT_MS / 1000} s\n${this.stderr.trim()}`));
        this.child.kill();
      }, TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer, action: input.action });
      this.hold(true);
      this.child.stdin.write(`${JSON.stringify({ id, input })}\n`);
    });
  }

  stop(): void {
    this.child.stdin.end();
  }

  /** Keeps Node's event loop alive for the child only while an answer is awaited. */
  private hold(busy: boolean): void {
    const handles = [this.child, this.child.stdout, this.child.stderr, this.child.stdin] as unknown as { ref(): void; unref(): void }[];
    for (const handle of handles) {
      if (busy) handle.ref();
      else handle.unref();
    }
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) !== -1) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      if (line.trim() !== '') this.answer(line);
    }
  }

  private answer(line: string): void {
    let message: { id?: number; result?: unknown; harnessError?: string };
    try {
      message = JSON.parse(line) as typeof message;
    } catch (cause) {
      this.fail(new Error(`pysaml2 interop harness printed something other than JSON: ${line.slice(0, 2000)}`, { cause }));
      this.child.kill();
      return;
    }
    const pending = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!pending || message.id === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (this.pending.size === 0) this.hold(false);
    if (message.harnessError !== undefined) pending.reject(new Error(`pysaml2 interop harness failed (action ${pending.action}): ${message.harnessError}`));
    else pending.resolve(message.result);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(this.failure);
    }
    this.pending.clear();
    this.hold(false);
  }
}

let worker: Worker | undefined;

/**
 * Runs one action in pysaml2. Rejects on a harness failure (python or pysaml2 missing, bad
 * input); pysaml2's refusals resolve as `{ ok: false }`.
 */
export async function runPysaml2Sp<I extends Pysaml2Input>(input: I): Promise<Pysaml2ResultFor<I['action']>> {
  if (!worker?.alive) worker = new Worker(pysaml2Python());
  return (await worker.call(input)) as Pysaml2ResultFor<I['action']>;
}

/** Ends the shared pysaml2 process (optional: it does not keep Node running, and ends when Node does). */
export function stopPysaml2Sp(): void {
  worker?.stop();
  worker = undefined;
}

/** A configured pysaml2 SP: the same metadata and settings for each call. */
export interface Pysaml2Sp {
  readonly config: Pysaml2SpSetup;
  authnRequest(options?: { relayState?: string | undefined }): Promise<RedirectResult>;
  /** `outstanding`: AuthnRequest IDs awaiting a Response (none for IdP-initiated, with allowUnsolicited). */
  parseResponse(samlResponse: string, options?: { outstanding?: readonly string[] | undefined }): Promise<ParseResponseResult>;
  logoutRequest(nameId: Pysaml2NameId, options?: { sessionIndexes?: readonly string[] | undefined; relayState?: string | undefined }): Promise<RedirectResult>;
  parseLogoutResponse(url: string, options?: { requestId?: string | undefined }): Promise<ParseLogoutResponseResult>;
}

export function pysaml2Sp(config: Pysaml2SpSetup): Pysaml2Sp {
  return {
    config,
    authnRequest: (options = {}) => runPysaml2Sp({ ...config, action: 'authn-request', ...options }),
    parseResponse: (samlResponse, options = {}) => runPysaml2Sp({ ...config, action: 'parse-response', samlResponse, outstandingRequestIds: options.outstanding ?? [] }),
    logoutRequest: (nameId, options = {}) => runPysaml2Sp({ ...config, action: 'logout-request', nameId, ...options }),
    parseLogoutResponse: (url, options = {}) => runPysaml2Sp({ ...config, action: 'parse-logout-response', url, ...options }),
  };
}

/** Narrows a parse result to acceptance, failing with pysaml2's reasons otherwise. */
export function assertAccepted<R extends AcceptedResponse | AcceptedLogoutResponse>(result: R | Refusal): asserts result is R {
  if (!result.ok) throw new Error(`pysaml2 refused: ${result.errorType}: ${result.error}\n${result.log.join('\n')}`);
}
