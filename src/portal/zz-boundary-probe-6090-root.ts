import { startApp } from '#src/app.ts';
export const probe = startApp;
