import { isGuid } from '#src/directory/ad-codec.ts';
export const probe = isGuid;
