import { toProvisionedUser } from '#src/identity-store/user.ts';
export const probe = toProvisionedUser;
