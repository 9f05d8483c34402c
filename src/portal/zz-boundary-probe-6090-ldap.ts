import { Client } from 'ldapts';
export const probe = Client;
