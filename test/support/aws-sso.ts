/**
 * What the AWS SSO suites share: moto_server as STS on a loopback port (behind a recording
 * proxy, so the tests can check the SAML assertions Portico sent and make STS refuse), an
 * AWS_DATA_PATH directory whose endpoint rule sets send the unmodified AWS CLI to Portico and to
 * moto, and the device-code approval done over HTTP the way the browser does it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../bench/portico-process.ts';
import { refuseInUnitTier } from './tier.ts';

export interface Moto {
  url: string;
  /** For CPU readings (bench/aws-sso.bench.ts). */
  pid: number;
  stop(): Promise<void>;
}

/** moto_server on a random loopback port; fails clearly when moto is not installed. */
export async function startMoto(): Promise<Moto> {
  refuseInUnitTier('moto_server');
  const port = await freePort();
  const child: ChildProcess = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => (stderr += `\n${error.message}`));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i += 1) {
    try {
      const response = await fetch(`${url}/moto-api/`);
      if (response.status < 500) {
        return {
          url,
          pid: child.pid as number,
          async stop() {
            child.kill('SIGTERM');
            await exited;
          },
        };
      }
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) break;
    await sleep(100);
  }
  child.kill('SIGTERM');
  throw new Error(`moto_server did not start (is moto installed? python3 -c 'import moto.server'): ${stderr.slice(-500)}`);
}

export interface StsProxy {
  url: string;
  /** Every SAMLAssertion sent to STS, in order (base64). */
  assertions: string[];
  /** While set, STS answers this error instead of forwarding (AWS's XML error shape). */
  refuseWith: { status: number; code: string; message: string } | null;
  close(): Promise<void>;
}

/** A proxy in front of moto's STS that records AssumeRoleWithSAML assertions. */
export async function startStsProxy(target: string): Promise<StsProxy> {
  const state: StsProxy = { url: '', assertions: [], refuseWith: null, close: () => Promise.resolve() };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const fields = new URLSearchParams(body.toString('utf8'));
      const assertion = fields.get('SAMLAssertion');
      if (assertion !== null) state.assertions.push(assertion);
      if (state.refuseWith !== null) {
        const { status, code, message } = state.refuseWith;
        response.writeHead(status, { 'content-type': 'text/xml' });
        response.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`);
        return;
      }
      const upstream = new URL(request.url ?? '/', target);
      const forwarded = httpRequest(upstream, { method: request.method, headers: { ...request.headers, host: upstream.host } }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      forwarded.on('error', () => {
        response.writeHead(502);
        response.end();
      });
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

/** Endpoint rule sets (one unconditional rule each) that point the AWS CLI's services at local URLs. */
export function writeEndpointRuleSets(dataPath: string, endpoints: Record<'sso-oidc/2019-06-10' | 'sso/2019-06-10' | 'sts/2011-06-15', string>): void {
  for (const [service, url] of Object.entries(endpoints)) {
    const dir = join(dataPath, service);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'endpoint-rule-set-1.json'),
      JSON.stringify({
        version: '1.0',
        parameters: {
          Region: { builtIn: 'AWS::Region', required: false, documentation: 'region', type: 'String' },
          UseDualStack: { builtIn: 'AWS::UseDualStack', required: true, default: false, documentation: 'dual stack', type: 'Boolean' },
          UseFIPS: { builtIn: 'AWS::UseFIPS', required: true, default: false, documentation: 'FIPS', type: 'Boolean' },
          Endpoint: { builtIn: 'SDK::Endpoint', required: false, documentation: 'endpoint', type: 'String' },
        },
        rules: [{ conditions: [], endpoint: { url, properties: {}, headers: {} }, type: 'endpoint' }],
      }),
    );
  }
}

/** The hidden fields of the first form of a page (the device page's Allow form). */
function hiddenFields(html: string, decision: 'approve' | 'deny'): Record<string, string> {
  const forms = [...html.matchAll(/<form method="post" action="\/device">([\s\S]*?)<\/form>/g)].map((m) => m[1] ?? '');
  const form = forms.find((f) => f.includes(`value="${decision}"`));
  if (form === undefined) throw new Error(`no ${decision} form on the device page: ${html.slice(0, 500)}`);
  const fields: Record<string, string> = {};
  for (const match of form.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) {
    fields[match[1] ?? ''] = (match[2] ?? '').replace(/&#(\d+);/g, (_m, c: string) => String.fromCharCode(Number(c))).replace(/&amp;/g, '&');
  }
  return fields;
}

/** What the person does on the device page with a signed-in browser (its session cookie): approve or deny. */
export async function decideDeviceCode(baseUrl: string, cookie: string, userCode: string, decision: 'approve' | 'deny'): Promise<{ status: number; text: string }> {
  const page = await fetch(`${baseUrl}/device?${new URLSearchParams({ user_code: userCode }).toString()}`, { headers: { cookie }, redirect: 'manual' });
  const html = await page.text();
  if (page.status !== 200) return { status: page.status, text: html };
  const answer = await fetch(`${baseUrl}/device`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(hiddenFields(html, decision)).toString(), redirect: 'manual' });
  return { status: answer.status, text: await answer.text() };
}
