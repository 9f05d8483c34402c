/**
 * What an assertion for an AWS account carries, in the shape AWS sign-in and STS
 * AssumeRoleWithSAML accept: the role and SAML provider ARNs, the role session name (the UPN),
 * the session duration of the permission set, and session tags from the attributes for access
 * control. Pure: the caller signs and delivers.
 */
import type { Account, PermissionSet } from '#src/access/model.ts';
import { durationMinutes } from '#src/shared/duration.ts';
import { compileUserPathTemplate, type UserPathTemplate } from '#src/identity-store/user-path.ts';
import type { IdentityUser } from '#src/identity-store/user.ts';
import { AppError } from '#src/shared/errors.ts';
import { rolePathAndName } from '#src/aws/role-plan.ts';
import type { SamlAttribute } from './saml/attributes.ts';
import type { ResponseApplication } from './saml/response.ts';

/** The audience AWS sign-in expects in every SAML assertion. */
export const AWS_SAML_AUDIENCE = 'urn:amazon:webservices';
/** Where assertions are posted when the account names no other sign-in endpoint. */
export const AWS_SIGN_IN_URL = 'https://signin.aws.amazon.com/saml';
const ATTRIBUTE = 'https://aws.amazon.com/SAML/Attributes/';

export interface AwsFederationOptions {
  samlProviderName: string;
  /** `{permissionSet}` and `{accountId}` are replaced; may start with a path (`sso/{permissionSet}`). */
  roleName: string;
  /** Session tag key → `${path:…}` template over the identity-store user. */
  accessControlAttributes: Record<string, string>;
  /**
   * The reserved IAM path of the roles Portico provisions (`/portico/`), while it provisions them;
   * null when roles are made by hand (the role name's own path then applies, below `/`).
   */
  rolePath?: () => string | null;
}

export interface AwsSignIn {
  roleArn: string;
  providerArn: string;
  /** Seconds, from the permission set (AWS accepts 900–43,200). */
  durationSeconds: number;
  attributes: SamlAttribute[];
  /** What building the Response needs: AWS's audience, a persistent NameID, the permission set's duration. */
  application: ResponseApplication;
  signInUrl: string;
  relayState: string | undefined;
}

export type AwsFederation = ReturnType<typeof createAwsFederation>;

/** Compiles the options once (a bad `${path:…}` fails at start, naming its key). */
export function createAwsFederation(options: AwsFederationOptions) {
  const tags: Array<[string, UserPathTemplate]> = Object.entries(options.accessControlAttributes).map(([key, template]) => [
    key,
    compileUserPathTemplate(template, `federation.aws.accessControlAttributes.${key}`),
  ]);

  function roleArn(account: Pick<Account, 'id'>, permissionSet: Pick<PermissionSet, 'name'>): string {
    const name = options.roleName.replaceAll('{permissionSet}', permissionSet.name).replaceAll('{accountId}', account.id);
    const segments = name.split('/');
    // IAM: a role name is 1–64 of [\w+=,.@-]; a path is segments of the same characters.
    if (name.length > 512 || segments.some((segment) => !/^[\w+=,.@-]{1,64}$/.test(segment))) {
      throw new AppError('federation.role_name_invalid', `federation.aws.roleName gives "${name.slice(0, 100)}" for permission set ${permissionSet.name}, which is not an IAM role name`, { status: 500, expose: true });
    }
    const reserved = options.rolePath?.() ?? null;
    if (reserved === null) return `arn:aws:iam::${account.id}:role/${name}`;
    // Provisioned roles live below the reserved path: sso/Admin → /portico/sso/Admin.
    const { path, name: last } = rolePathAndName(reserved, name);
    return `arn:aws:iam::${account.id}:role${path}${last}`;
  }

  return {
    roleArn,
    providerArn: (account: Pick<Account, 'id'>) => `arn:aws:iam::${account.id}:saml-provider/${options.samlProviderName}`,

    /** The role name with `{permissionSet}` and `{accountId}` replaced (may hold a path). */
    roleName: (account: Pick<Account, 'id'>, permissionSet: Pick<PermissionSet, 'name'>): string =>
      options.roleName.replaceAll('{permissionSet}', permissionSet.name).replaceAll('{accountId}', account.id),

    signIn(account: Account, permissionSet: PermissionSet, user: IdentityUser): AwsSignIn {
      const role = roleArn(account, permissionSet);
      const provider = `arn:aws:iam::${account.id}:saml-provider/${options.samlProviderName}`;
      const durationSeconds = (durationMinutes(permissionSet.sessionDuration) ?? 60) * 60;
      const attributes: SamlAttribute[] = [
        { name: `${ATTRIBUTE}Role`, nameFormat: 'uri', values: [`${role},${provider}`] },
        { name: `${ATTRIBUTE}RoleSessionName`, nameFormat: 'uri', values: [user.activeDirectory.windowsUpn || user.userName] },
        { name: `${ATTRIBUTE}SessionDuration`, nameFormat: 'uri', values: [String(durationSeconds)] },
      ];
      for (const [key, template] of tags) {
        const value = template(user);
        // A missing value is left out: AWS refuses an empty session tag.
        if (value !== null) attributes.push({ name: `${ATTRIBUTE}PrincipalTag:${key}`, nameFormat: 'uri', values: [value.slice(0, 256)] });
      }
      return {
        roleArn: role,
        providerArn: provider,
        durationSeconds,
        attributes,
        application: { entityId: AWS_SAML_AUDIENCE, nameIdFormat: 'persistent', sessionDuration: permissionSet.sessionDuration, encryptionCertificate: undefined },
        signInUrl: account.signInUrl ?? AWS_SIGN_IN_URL,
        relayState: permissionSet.relayState,
      };
    },
  };
}
