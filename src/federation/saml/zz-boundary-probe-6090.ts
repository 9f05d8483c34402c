import { applicationInput } from '#src/access/model.ts';
export const probe = applicationInput;
