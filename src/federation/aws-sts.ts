/**
 * STS AssumeRoleWithSAML, unsigned (the SAML assertion is the credential), with
 * @aws-sdk/client-sts. The endpoint is AWS's regional one unless configured (an emulator in
 * tests, a VPC endpoint in some deployments). STS's refusals become `federation.sts_refused`
 * with STS's own error code and message in the details, so the caller can show them as AWS
 * words them.
 */
import { AssumeRoleWithSAMLCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import { AppError } from '#src/shared/errors.ts';

export interface StsOptions {
  endpoint?: string | undefined;
  region: string;
  timeoutSeconds: number;
}

export function createAssumeRoleWithSaml(options: StsOptions) {
  const client = new STSClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    maxAttempts: 2,
    requestHandler: { requestTimeout: options.timeoutSeconds * 1000, connectionTimeout: options.timeoutSeconds * 1000 },
  });
  // AssumeRoleWithSAML is unsigned (the SDK's auth scheme for it is noAuth): no credentials are looked up.
  return async (input: { roleArn: string; principalArn: string; samlAssertion: string; durationSeconds: number }) => {
    let output;
    try {
      output = await client.send(
        new AssumeRoleWithSAMLCommand({ RoleArn: input.roleArn, PrincipalArn: input.principalArn, SAMLAssertion: input.samlAssertion, DurationSeconds: input.durationSeconds }),
      );
    } catch (error) {
      if (error instanceof STSServiceException && (error.$metadata.httpStatusCode ?? 500) < 500) {
        throw new AppError('federation.sts_refused', `STS refused AssumeRoleWithSAML: ${error.message}`, {
          status: 403,
          details: { stsCode: error.name, stsStatus: error.$metadata.httpStatusCode },
          cause: error,
        });
      }
      throw new AppError('federation.sts_unavailable', 'STS could not be reached or failed; try again', { status: 502, details: { stsError: error instanceof Error ? error.name : 'unknown' }, cause: error });
    }
    const c = output.Credentials;
    if (c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined || c.Expiration === undefined) {
      throw new AppError('federation.sts_unavailable', 'STS answered without credentials', { status: 502 });
    }
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration, assumedRoleArn: output.AssumedRoleUser?.Arn };
  };
}
