/**
 * ISO-8601 durations in hours and minutes (PT1H, PT8H30M): how permission sets and applications
 * say how long a session lasts. Shared because the access model validates them and the
 * federation (AWS and SAML assertions) reads them.
 */
export function durationMinutes(value: string): number | null {
  const match = /^PT(?:(\d{1,3})H)?(?:(\d{1,4})M)?$/.exec(value);
  if (match === null || (match[1] === undefined && match[2] === undefined)) return null;
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}
