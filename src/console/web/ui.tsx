/**
 * The console's shared pieces: labelled fields, a form card that shows the API's error verbatim
 * and marks the field it names, captioned tables that become one card per row on a phone, the
 * flash region, the confirmation dialog and hash navigation. Everything is rendered by Preact as
 * text: nothing from the API is ever parsed as HTML.
 */
import type { ComponentChildren, InputHTMLAttributes, JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, errorText, InputError, isAbort } from './api.ts';

let lastId = 0;
/** An id unique in the page, stable for the component's life. */
export function useUid(name: string): string {
  return useMemo(() => `${name}-${++lastId}`, [name]);
}

export const Hidden = ({ children }: { children: ComponentChildren }) => <span class="visually-hidden">{children}</span>;

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <>—</>;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return <>{iso}</>;
  return <time dateTime={iso}>{date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}</time>;
}

export const Badge = ({ tone, children }: { tone: 'ok' | 'bad' | 'neutral'; children: ComponentChildren }) => <span class={`badge ${tone}`}>{children}</span>;

export const Mono = ({ children }: { children: ComponentChildren }) => <span class="mono">{children}</span>;

/** A description list from [term, value] pairs; null and undefined values are left out. */
export function Summary({ pairs }: { pairs: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="summary">
      {pairs
        .filter(([, value]) => value !== null && value !== undefined)
        .map(([term, value]) => (
          <>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </>
        ))}
    </dl>
  );
}

export interface Column<T> {
  label: string;
  hideLabel?: boolean;
  cell: (row: T) => ComponentChildren;
}

/** A data table with a caption; on narrow screens (class "stack") each row becomes a card labelled by data-label. */
export function Table<T>({ caption, captionId, columns, rows, empty }: { caption: string; captionId?: string; columns: Array<Column<T>>; rows: readonly T[]; empty: string }) {
  return (
    <div class="table-block">
      <table class="stack">
        <caption id={captionId} tabIndex={captionId ? -1 : undefined}>
          {caption}
        </caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col">{column.hideLabel ? <Hidden>{column.label}</Hidden> : column.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td class="empty" colSpan={columns.length}>
                {empty}
              </td>
            </tr>
          ) : (
            rows.map((row) => (
              <tr>
                {columns.map((column) => (
                  <td data-label={column.label}>{column.cell(row)}</td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

export interface Option {
  value: string;
  label: string;
  disabled?: boolean;
}

export interface FieldProps {
  name: string;
  label: string;
  hint?: ComponentChildren;
  type?: 'text' | 'email' | 'url' | 'search' | 'password' | 'datetime-local';
  /** The initial value, also the value form.reset() comes back to. */
  value?: string;
  optional?: boolean;
  rows?: number;
  mono?: boolean;
  options?: Option[];
  inputMode?: 'numeric' | 'text' | 'email' | 'url' | 'search';
  list?: string;
  readOnly?: boolean;
  onFocus?: (event: FocusEvent) => void;
  onInput?: (event: Event) => void;
  hidden?: boolean;
  autoComplete?: string;
}

/** Makes a select's initial choice its default too, so that form.reset() comes back to it. */
function selectDefault(select: HTMLSelectElement | null, value: string | undefined): void {
  if (!select || value === undefined) return;
  for (const option of select.options) option.defaultSelected = option.value === value;
  select.value = value;
}

/**
 * A select whose initial choice is only its default: Preact would put a `value` back at every
 * render, undoing the person's choice (uncontrolled, like every field of these forms).
 */
export function Select({ id, name, options, value, describedBy }: { id: string; name: string; options: Option[]; value?: string; describedBy?: string }) {
  const ref = useRef<HTMLSelectElement>(null);
  useEffect(() => selectDefault(ref.current, value), []);
  return (
    <select id={id} name={name} aria-describedby={describedBy} ref={ref}>
      {options.map((option) => (
        <option value={option.value} disabled={option.disabled}>
          {option.label}
        </option>
      ))}
    </select>
  );
}

/** A labelled control: an input, a textarea (rows) or a select (options). */
export function Field(props: FieldProps) {
  const id = useUid(props.name);
  const hintId = props.hint ? `${id}-hint` : undefined;
  const common = { id, name: props.name, 'aria-describedby': hintId, spellcheck: false };
  let control: JSX.Element;
  if (props.options) {
    control = <Select id={id} name={props.name} options={props.options} value={props.value} describedBy={hintId} />;
  } else if (props.rows) {
    control = <textarea {...common} rows={props.rows} class={props.mono ? 'mono' : undefined} autocapitalize="none" defaultValue={props.value} />;
  } else {
    // One props object: Preact's input types vary with `type`, and these fields choose it at run time.
    const inputProps = {
      ...common,
      type: props.type ?? 'text',
      autoComplete: props.autoComplete ?? 'off',
      autocapitalize: 'none',
      inputMode: props.inputMode,
      class: props.mono ? 'mono' : undefined,
      list: props.list,
      defaultValue: props.value,
      readOnly: props.readOnly,
      onFocus: props.onFocus,
      onInput: props.onInput,
    } as InputHTMLAttributes<HTMLInputElement>;
    control = <input {...inputProps} />;
  }
  return (
    <div class="field" hidden={props.hidden}>
      <label for={id}>
        {props.label}
        {props.optional ? <span class="optional"> (optional)</span> : null}
      </label>
      {hintId ? (
        <p id={hintId} class="hint">
          {props.hint}
        </p>
      ) : null}
      {control}
    </div>
  );
}

/** A labelled checkbox. */
export function Checkbox({ name, label, hint, checked }: { name: string; label: string; hint?: string; checked?: boolean }) {
  const id = useUid(name);
  const hintId = hint ? `${id}-hint` : undefined;
  return (
    <div class="field">
      <div class="choice">
        <input id={id} name={name} type="checkbox" aria-describedby={hintId} defaultChecked={checked} />
        <label for={id}>{label}</label>
      </div>
      {hintId ? (
        <p id={hintId} class="hint">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** An alert region; empty, it takes no room and is not announced. */
export const Alert = ({ message, id }: { message: string; id?: string }) => (
  <div class="alert" role="alert" id={id}>
    {message}
  </div>
);

export interface FormCardProps {
  title: string;
  intro?: ComponentChildren;
  submitLabel: string;
  /** Returns a message for the flash region (or nothing). */
  submit: (form: HTMLFormElement) => Promise<string | null | void>;
  extra?: ComponentChildren;
  children: ComponentChildren;
  /** Shown in the card after the form (results). */
  after?: ComponentChildren;
  headingLevel?: 'h2' | 'h3';
}

function unmarkInvalid(control: Element, alertId: string): void {
  control.removeAttribute('aria-invalid');
  const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id !== '' && id !== alertId);
  if (described.length > 0) control.setAttribute('aria-describedby', described.join(' '));
  else control.removeAttribute('aria-describedby');
}

/** "name: required; body acsUrls: …" → marks the controls named name and acsUrls. */
function markInvalidFields(form: HTMLFormElement, error: unknown, alertId: string): void {
  const names = new Set<string>();
  if (error instanceof InputError && error.field) names.add(error.field);
  if (error instanceof ApiError) {
    for (const part of error.message.split('; ')) {
      const match = /^(?:(?:body|query|path) )?([A-Za-z]+)(?:[.[][^:\s]*)?:/.exec(part);
      if (match?.[1]) names.add(match[1]);
    }
  }
  for (const name of names) {
    const found = form.elements.namedItem(name);
    const control = found instanceof RadioNodeList ? found[0] : found;
    if (!(control instanceof Element)) continue;
    control.setAttribute('aria-invalid', 'true');
    const described = (control.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => id !== '');
    if (!described.includes(alertId)) control.setAttribute('aria-describedby', [alertId, ...described].join(' '));
  }
}

/**
 * A form section: heading, alert, fields, submit button. API errors land in the alert verbatim and
 * the field they name is marked invalid. The button is never disabled (it would lose the keyboard
 * focus): a second press while busy is ignored.
 */
export function FormCard({ title, intro, submitLabel, submit, extra, children, after, headingLevel = 'h2' }: FormCardProps) {
  const headingId = useUid('form-title');
  const alertId = useUid('form-alert');
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const busyRef = useRef(false);
  const Heading = headingLevel;
  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    if (busyRef.current) return;
    const form = event.currentTarget as HTMLFormElement;
    busyRef.current = true;
    setBusy(true);
    setMessage('');
    for (const invalid of form.querySelectorAll('[aria-invalid="true"]')) unmarkInvalid(invalid, alertId);
    try {
      const said = await submit(form);
      if (said) flash.say(said);
    } catch (error) {
      if (!isAbort(error)) {
        setMessage(errorText(error));
        markInvalidFields(form, error, alertId);
      }
    } finally {
      busyRef.current = false;
      setBusy(false);
    }
  }
  return (
    <section class="card" aria-labelledby={headingId}>
      <Heading id={headingId}>{title}</Heading>
      {intro ? <p class="hint">{intro}</p> : null}
      <form noValidate aria-labelledby={headingId} onSubmit={(event) => void onSubmit(event)}>
        <Alert message={message} id={alertId} />
        {children}
        <div class="actions">
          <button type="submit" aria-disabled={busy ? 'true' : undefined}>
            {submitLabel}
          </button>
          {extra}
        </div>
      </form>
      {after}
    </section>
  );
}

/** A form control's trimmed value ('' when absent). */
export function valueOf(form: HTMLFormElement, name: string): string {
  const control = form.elements.namedItem(name);
  return control && 'value' in control ? String(control.value).trim() : '';
}

export function checked(form: HTMLFormElement, name: string): boolean {
  const control = form.elements.namedItem(name);
  return control instanceof HTMLInputElement && control.checked;
}

/** Optional fields are sent only when filled. */
export function optional<T extends object, K extends string>(target: T, key: K, value: string): T & Partial<Record<K, string>> {
  if (value !== '') (target as Record<string, unknown>)[key] = value;
  return target;
}

export const lines = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');

/** "key=value" per line. */
export function parseTags(text: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [index, line] of lines(text).entries()) {
    const at = line.indexOf('=');
    if (at <= 0) throw new InputError(`tags: line ${index + 1} must be key=value`, 'tags');
    tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return tags;
}

export const tagsText = (tags: Record<string, string> | undefined): string =>
  Object.entries(tags ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');

export const TagsField = ({ value }: { value?: string }) => <Field name="tags" label="Tags" optional rows={2} mono hint="One key=value per line." value={value} />;

export function DeleteButton({ label, onClick, text = 'Delete' }: { label: string; onClick: () => void; text?: string }) {
  return (
    <button type="button" class="danger small" onClick={onClick}>
      {text}
      <Hidden> {label}</Hidden>
    </button>
  );
}

// ---------------------------------------------------------------------------------------------
// Flash messages, the confirmation dialog, navigation

let flashElement: HTMLElement | null = null;
let pendingFlash: string | null = null;

export const flash = {
  say(message: string): void {
    const element = flashElement;
    if (!element) return;
    element.textContent = '';
    // A fresh text node in the live region, so that the same message twice is announced twice.
    setTimeout(() => (element.textContent = message), 30);
  },
  clear(): void {
    if (flashElement) flashElement.textContent = '';
  },
  /** Shows the message kept for the page being opened, or clears the region. */
  showPending(): void {
    if (pendingFlash) this.say(pendingFlash);
    else this.clear();
    pendingFlash = null;
  },
};

/** The live region of flash messages; its text is set directly (see flash.say). */
export function FlashRegion() {
  return <div id="flash" class="flash" role="status" ref={(element) => void (flashElement = element)} />;
}

let dialogElement: HTMLDialogElement | null = null;

/** The one confirmation dialog; confirmAction() fills and opens it. */
export function ConfirmDialog() {
  return (
    <dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-message" ref={(element) => void (dialogElement = element)}>
      <form method="dialog">
        <h2 id="confirm-title">Are you sure?</h2>
        <p id="confirm-message" />
        <div class="actions">
          <button type="submit" value="cancel" class="secondary" autofocus>
            Cancel
          </button>
          <button type="submit" value="confirm" class="danger solid" id="confirm-ok">
            Delete
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Asks in a modal dialog; resolves true when confirmed. Escape and Cancel say no. */
export function confirmAction({ title, message, confirm = 'Delete' }: { title: string; message: string; confirm?: string }): Promise<boolean> {
  const dialog = dialogElement;
  if (!dialog) return Promise.resolve(false);
  dialog.querySelector('#confirm-title')!.textContent = title;
  dialog.querySelector('#confirm-message')!.textContent = message;
  dialog.querySelector('#confirm-ok')!.textContent = confirm;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true }));
}

let rerender: (() => void) | null = null;
export function onNavigateSame(callback: () => void): void {
  rerender = callback;
}

/** Goes to a console page; `message` is shown there once. */
export function navigate(hash: string, message?: string): void {
  pendingFlash = message ?? null;
  if (location.hash === hash) rerender?.();
  else location.hash = hash;
}

/** Updates the address without re-rendering (search terms, chosen targets). */
export function remember(hash: string): void {
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

export type Loaded<T> = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; data: T };

/** Loads data for a region; `reload` loads it again. */
export function useLoad<T>(work: () => Promise<T>, deps: unknown[] = []): [Loaded<T>, () => Promise<void>] {
  const [loaded, setLoaded] = useState<Loaded<T>>({ state: 'loading' });
  const reload = async () => {
    setLoaded({ state: 'loading' });
    try {
      setLoaded({ state: 'ready', data: await work() });
    } catch (error) {
      setLoaded({ state: 'failed', message: errorText(error) });
    }
  };
  useEffect(() => void reload(), deps);
  return [loaded, reload];
}

/** What a region shows while its data loads or when it failed; null when ready. */
export function LoadState<T>({ loaded }: { loaded: Loaded<T> }) {
  if (loaded.state === 'loading') return <p class="note">Loading…</p>;
  if (loaded.state === 'failed') return <Alert message={loaded.message} />;
  return null;
}
