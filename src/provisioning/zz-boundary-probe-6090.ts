import type { SignInService } from '#src/auth/sign-in.ts';
export type Probe = SignInService;
