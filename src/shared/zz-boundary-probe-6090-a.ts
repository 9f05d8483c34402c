import { b } from './zz-boundary-probe-6090-b.ts';
export const a = (): unknown => b;
