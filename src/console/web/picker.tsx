/**
 * The principal picker: a combobox that asks the directory (GET /directory/principals) as you
 * type, with a listbox of users and groups. Arrow keys move, Enter chooses, Escape closes.
 * Distribution groups are listed as granting nothing and cannot be chosen (the API refuses them too).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ApiResult } from './api.ts';
import { api, errorText, isAbort } from './api.ts';
import { Alert, useUid } from './ui.tsx';

export type Principal = ApiResult<'/directory/principals', 'get'>['principals'][number];

export interface PickerHandle {
  chosen(): Principal | null;
  typed(): string;
  reset(): void;
}

export function PrincipalPicker({ handle }: { handle: { current: PickerHandle | null } }) {
  const inputId = useUid('principal');
  const listId = useUid('principal-options');
  const hintId = useUid('principal-hint');
  const typeId = useUid('principal-type');
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const [type, setType] = useState('');
  const [options, setOptions] = useState<Principal[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const [count, setCount] = useState('');
  const [chosen, setChosen] = useState<Principal | null>(null);
  const [alert, setAlert] = useState('');
  const state = useRef({ timer: 0, controller: null as AbortController | null, seq: 0, chosen: null as Principal | null });

  const optionId = (index: number) => `${listId}-${index}`;
  function close() {
    setOpen(false);
    setActive(-1);
  }
  function choose(principal: Principal) {
    if (principal.grantsAccess === false) {
      setCount(`${principal.name} is a distribution group: it grants no access. Choose a security group.`);
      return;
    }
    state.current.chosen = principal;
    setChosen(principal);
    if (input.current) input.current.value = principal.name;
    close();
    input.current?.removeAttribute('aria-invalid');
  }
  function reset() {
    state.current.chosen = null;
    setChosen(null);
    if (input.current) input.current.value = '';
    setCount('');
    setOptions([]);
    close();
  }
  handle.current = { chosen: () => state.current.chosen, typed: () => input.current?.value.trim() ?? '', reset };

  async function search(kind: string) {
    const q = input.current?.value.trim() ?? '';
    state.current.controller?.abort();
    if (q === '') {
      close();
      setOptions([]);
      setCount('');
      return;
    }
    const controller = new AbortController();
    state.current.controller = controller;
    const seq = ++state.current.seq;
    setCount('Searching…');
    try {
      const result = await api('get', '/directory/principals', { query: { q, limit: '10', type: kind === '' ? undefined : (kind as 'user' | 'group') }, signal: controller.signal });
      if (seq !== state.current.seq) return;
      setOptions(result.principals);
      setActive(-1);
      setOpen(result.principals.length > 0);
      const n = result.principals.length;
      setCount(n === 0 ? 'No user or group matches.' : `${n} match${n === 1 ? '' : 'es'}${result.more ? '; there are more: keep typing to narrow them' : ''}. Use the arrow keys and Enter, or click, to choose.`);
    } catch (error) {
      if (isAbort(error) || seq !== state.current.seq) return;
      close();
      setCount('');
      setAlert(errorText(error));
    }
  }
  function schedule(kind = type) {
    clearTimeout(state.current.timer);
    state.current.timer = window.setTimeout(() => void search(kind), 200);
  }
  useEffect(() => () => clearTimeout(state.current.timer), []);
  useEffect(() => {
    if (active >= 0) list.current?.children[active]?.scrollIntoView({ block: 'nearest' });
  }, [active]);

  function onKeyDown(event: KeyboardEvent) {
    const n = options.length;
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (n === 0) return;
      event.preventDefault();
      setOpen(true);
      const step = event.key === 'ArrowDown' ? 1 : -1;
      setActive(active < 0 ? (step === 1 ? 0 : n - 1) : (active + step + n) % n);
    } else if (event.key === 'Enter') {
      const option = options[active];
      if (open && active >= 0 && option) {
        event.preventDefault();
        choose(option);
      }
    } else if (event.key === 'Escape') {
      if (open) {
        event.preventDefault();
        close();
      }
    }
  }

  return (
    <fieldset class="picker">
      <legend>Who</legend>
      <div class="field">
        <label for={typeId}>Search for</label>
        <select
          id={typeId}
          name="principalType"
          onChange={(event) => {
            const kind = event.currentTarget.value;
            setType(kind);
            if (!state.current.chosen && (input.current?.value.trim() ?? '') !== '') schedule(kind);
          }}
        >
          <option value="">Users and groups</option>
          <option value="user">Users only</option>
          <option value="group">Groups only</option>
        </select>
      </div>
      <div class="field">
        <label for={inputId}>User or group</label>
        <p id={hintId} class="hint">
          Type the start of a name, UPN, sAMAccountName or email: users and groups are read from Active Directory as you type.
        </p>
        <Alert message={alert} />
        <input
          id={inputId}
          ref={input}
          name="principal"
          type="text"
          role="combobox"
          aria-autocomplete="list"
          aria-expanded={open ? 'true' : 'false'}
          aria-controls={listId}
          aria-describedby={hintId}
          aria-activedescendant={open && active >= 0 ? optionId(active) : undefined}
          autoComplete="off"
          autocapitalize="none"
          spellcheck={false}
          onInput={() => {
            setAlert('');
            if (state.current.chosen) {
              state.current.chosen = null;
              setChosen(null);
            }
            schedule();
          }}
          onKeyDown={onKeyDown}
          onBlur={close}
        />
        {/* Clicking an option must not take the focus from the input first. */}
        <ul id={listId} ref={list} role="listbox" aria-label="Matching users and groups" hidden={!open} onMouseDown={(event) => event.preventDefault()}>
          {options.map((p, index) => (
            <li id={optionId(index)} role="option" aria-selected={index === active ? 'true' : 'false'} aria-disabled={p.grantsAccess === false ? 'true' : undefined} onClick={() => choose(p)}>
              <span class="kind">{p.type === 'group' ? 'Group' : 'User'}</span> {p.type === 'user' && p.displayName ? `${p.displayName} — ${p.name}` : p.name}
              {p.type === 'user' && p.mail && p.mail !== p.name ? <span class="secondary-text">{p.mail}</span> : null}
              {p.grantsAccess === false ? <span class="secondary-text">distribution group — grants no access</span> : null}
            </li>
          ))}
        </ul>
        <p class="hint" role="status">
          {count}
        </p>
        <p class="chosen">{chosen ? `Chosen: ${chosen.type} ${chosen.name}${chosen.displayName ? ` (${chosen.displayName})` : ''}.` : ''}</p>
      </div>
    </fieldset>
  );
}
