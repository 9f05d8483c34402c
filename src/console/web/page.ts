/** What every console page is given by the shell (main.tsx). */
export interface PageProps {
  /** The hash path split at "/", decoded: ['users', '<id>']. */
  segments: string[];
  /** The hash's query: #/access?account=<id>. */
  params: URLSearchParams;
  /** Replaces the page heading (and the document title) once the page knows what it shows. */
  setHeading: (text: string, documentTitle?: string) => void;
}
