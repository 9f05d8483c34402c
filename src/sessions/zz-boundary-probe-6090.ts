import { createSignInFlow } from '#src/auth/sign-in-flow.ts';
export const probe = createSignInFlow;
