/**
 * The admin API of MFA (/admin/api/mfa…, /admin/api/users/{id}/mfa-devices…): the policy, and a
 * person's devices for the help desk (list, rename, remove one, reset all — the lost-phone flow). Every
 * change is audited by the MFA service; no secret is ever returned.
 */
import { z } from 'zod';
import type { MfaService } from '#src/mfa/mfa-service.ts';
import { FACTOR_TYPES, MFA_MODES, REQUIREMENTS, WITHOUT_DEVICE } from '#src/mfa/policy.ts';
import { route, type ApiRoute } from './api-route.ts';

const TAG = 'mfa';

export const mfaPolicyView = z
  .object({
    mode: z.enum(MFA_MODES, { error: `mode: one of ${MFA_MODES.join(', ')}` }).describe('always: every sign-in; context-aware: when the browser is not remembered or the address class changed; never'),
    withoutDevice: z.enum(WITHOUT_DEVICE, { error: `withoutDevice: one of ${WITHOUT_DEVICE.join(', ')}` }).describe('a person without a device when MFA is asked: register one at sign-in, be refused, or be let in with the password'),
    factors: z.array(z.enum(FACTOR_TYPES, { error: `factors: each one of ${FACTOR_TYPES.join(', ')}` })).describe('factor types people may use'),
    rememberDeviceDays: z.number({ error: 'rememberDeviceDays: a whole number of days, 1 to 365' }).int().describe('context-aware mode: how long a browser is remembered'),
    applications: z.record(z.string(), z.enum(REQUIREMENTS, { error: `applications: each requirement one of ${REQUIREMENTS.join(', ')}` })).describe('application id → mfa | phishing-resistant, whatever the mode'),
    permissionSets: z.record(z.string(), z.enum(REQUIREMENTS, { error: `permissionSets: each requirement one of ${REQUIREMENTS.join(', ')}` })).describe('permission set id → mfa | phishing-resistant, whatever the mode'),
  })
  .meta({ id: 'MfaPolicy' });

const deviceView = z
  .object({ id: z.string(), type: z.enum(['totp', 'webauthn']), name: z.string(), createdAt: z.string(), lastUsedAt: z.string().nullable() })
  .meta({ id: 'MfaDevice' });

export interface MfaAdminDeps {
  mfa: () => MfaService;
  /** A user's objectGUID from any key the users routes accept. */
  userGuid: (key: string) => Promise<{ guid: string; userName: string }>;
}

const idParams = z.strictObject({ id: z.string().min(1).max(1024) });

export function mfaAdminRoutes(deps: MfaAdminDeps): ApiRoute[] {
  const mfa = {
    policy: () => deps.mfa().policy(),
    setPolicy: (input: unknown, actor: string) => deps.mfa().setPolicy(input, actor),
    factorsOf: (guid: string) => deps.mfa().factorsOf(guid),
    removeDevice: (guid: string, id: string, actor: string) => deps.mfa().removeDevice(guid, id, actor),
    renameDevice: (guid: string, id: string, name: string, actor: string) => deps.mfa().renameDevice(guid, id, name, actor),
    resetDevices: (guid: string, actor: string) => deps.mfa().resetDevices(guid, actor),
  };
  return [
    route({
      method: 'GET', path: '/mfa/policy', operationId: 'getMfaPolicy', tag: TAG, summary: 'The MFA policy',
      response: mfaPolicyView,
      handler: () => mfa.policy(),
    }),
    route({
      method: 'PUT', path: '/mfa/policy', operationId: 'setMfaPolicy', tag: TAG,
      summary: 'Change the MFA policy (fields left out keep their value)',
      body: mfaPolicyView.partial().strict(),
      response: mfaPolicyView,
      handler: async ({ body, admin }) => mfa.setPolicy({ ...(await mfa.policy()), ...body }, admin.actor),
    }),
    route({
      method: 'GET', path: '/users/{id}/mfa-devices', operationId: 'listUserMfaDevices', tag: TAG,
      summary: "A user's MFA devices and how many unused recovery codes they have",
      params: idParams,
      response: z.object({ userGuid: z.string(), userName: z.string(), devices: z.array(deviceView), recoveryCodes: z.number().int() }),
      handler: async ({ params }) => {
        const user = await deps.userGuid(params.id);
        const factors = await mfa.factorsOf(user.guid);
        return { userGuid: user.guid, userName: user.userName, devices: factors.devices, recoveryCodes: factors.recoveryCodes };
      },
    }),
    route({
      method: 'DELETE', path: '/users/{id}/mfa-devices/{deviceId}', operationId: 'removeUserMfaDevice', tag: TAG, status: 204,
      summary: 'Remove one MFA device of a user',
      params: z.strictObject({ id: z.string().min(1).max(1024), deviceId: z.string().min(1).max(64) }),
      response: z.null(),
      handler: async ({ params, admin }) => {
        const user = await deps.userGuid(params.id);
        await mfa.removeDevice(user.guid, params.deviceId, admin.actor);
        return null;
      },
    }),
    route({
      method: 'PATCH', path: '/users/{id}/mfa-devices/{deviceId}', operationId: 'renameUserMfaDevice', tag: TAG,
      summary: 'Rename one MFA device of a user',
      params: z.strictObject({ id: z.string().min(1).max(1024), deviceId: z.string().min(1).max(64) }),
      body: z.strictObject({ name: z.string({ error: 'name: 1 to 64 characters' }).min(1, 'name: 1 to 64 characters').max(64, 'name: 1 to 64 characters').describe('the new name (control characters are removed)') }),
      response: deviceView,
      handler: async ({ params, body, admin }) => mfa.renameDevice((await deps.userGuid(params.id)).guid, params.deviceId, body.name, admin.actor),
    }),
    route({
      method: 'POST', path: '/users/{id}/mfa-devices/reset', operationId: 'resetUserMfaDevices', tag: TAG,
      summary: 'Remove every MFA device and recovery code of a user (a lost phone): they register again at their next sign-in',
      params: idParams,
      response: z.object({ removed: z.number().int() }),
      handler: async ({ params, admin }) => ({ removed: await mfa.resetDevices((await deps.userGuid(params.id)).guid, admin.actor) }),
    }),
  ];
}
