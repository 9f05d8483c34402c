/**
 * The one HTML shell of Portico's server-rendered pages (sign-in, password, portal, SAML POST
 * and refusal pages): doctype, language, viewport, noindex, the "· Portico" title, one <main>.
 * Each face adds what its CSP allows in the head (an inline stylesheet by hash, or its own
 * static assets). Every interpolated value is escaped by the caller with `escapeHtml`.
 */

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export interface PageShell {
  /** Escaped here. */
  title: string;
  /** Trusted markup for the head: the face's stylesheet and script tags. */
  head: string;
  /** Trusted markup inside <main>. */
  body: string;
  /** A class on <body> (trusted, a fixed word). */
  bodyClass?: string;
}

export function renderPageShell({ title, head, body, bodyClass = '' }: PageShell): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · Portico</title>
${head}
</head>
<body${bodyClass === '' ? '' : ` class="${bodyClass}"`}>
<main>
${body}
</main>
</body>
</html>
`;
}
