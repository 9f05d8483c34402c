/**
 * Settings of the AWS-compatible SSO OIDC and portal APIs (`awsSso` in the configuration;
 * src/portal/aws-sso). Kept here, not beside the service, because the service's pages use the
 * sign-in look, which reads the configuration: a folder loop otherwise.
 */
import { z } from 'zod';

export const awsSsoOptionsSchema = z
  .object({
    /** The region people give `aws configure sso` (sso_region); Portico answers for any, this is what it shows. */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'an AWS region name such as eu-west-1').default('us-east-1'),
    /** Where GetRoleCredentials calls STS AssumeRoleWithSAML (unsigned). AWS's regional STS endpoint when absent. */
    sts: z
      .object({
        endpoint: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
        region: z.string().min(1).max(64).default('us-east-1'),
        timeoutSeconds: z.number().int().min(1).max(60).default(10),
      })
      .prefault({}),
    /** Access tokens' lifetime; the CLI refreshes them (it does so once less than 15 minutes are left). */
    accessTokenMinutes: z.number().int().min(1).max(720).default(60),
    /** How long a device code waits for the person (AWS: 10 minutes). */
    deviceCodeMinutes: z.number().int().min(1).max(30).default(10),
    /** The polling interval handed to clients; polling faster answers SlowDownException. */
    pollIntervalSeconds: z.number().int().min(1).max(60).default(5),
    /** How long a client registration lasts (AWS: 90 days). */
    clientRegistrationDays: z.number().int().min(1).max(365).default(90),
    /** Device authorizations one client registration may start per minute. */
    deviceAuthorizationsPerClientPerMinute: z.number().int().min(1).max(1000).default(10),
    /** Client registrations one address may make per minute. */
    registrationsPerAddressPerMinute: z.number().int().min(1).max(1000).default(20),
  })
  .prefault({});

export type AwsSsoOptions = z.output<typeof awsSsoOptionsSchema>;
