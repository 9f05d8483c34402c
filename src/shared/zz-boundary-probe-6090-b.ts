import { a } from './zz-boundary-probe-6090-a.ts';
export const b = (): unknown => a;
