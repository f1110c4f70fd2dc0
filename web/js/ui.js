// Small DOM helpers shared by the pages: elements, labelled fields, messages.
import { t } from './i18n.js';

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

let fieldSeq = 0;

/** A labelled input; every control has a visible label. */
export function field(labelKey, input, hintKey) {
  const id = input.id || `f${++fieldSeq}`;
  input.id = id;
  const parts = [el('label', { for: id, text: t(labelKey) }), input];
  if (hintKey) {
    const hintId = `${id}-hint`;
    input.setAttribute('aria-describedby', hintId);
    parts.push(el('p', { class: 'hint', id: hintId, text: t(hintKey) }));
  }
  return el('div', {}, ...parts);
}

export function checkbox(labelKey, name) {
  const input = el('input', { type: 'checkbox', name, id: `f${++fieldSeq}` });
  return el('label', { class: 'check', for: input.id }, input, t(labelKey));
}

export function message(kind, text) {
  return el('p', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status', text });
}

export function page(main, titleKey, ...children) {
  // Optional parts arrive as null; replaceChildren would print them as text.
  main.replaceChildren(el('h1', { text: t(titleKey) }), ...children.filter((c) => c !== null && c !== undefined));
}

/** Wires a form: disables the button while the action runs; shows errors in the form. */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    form.querySelector('.message')?.remove();
    try {
      await action(new FormData(form));
    } catch (err) {
      const { problemText } = await import('./i18n.js');
      form.prepend(message('error', problemText(err)));
    } finally {
      button.disabled = false;
    }
  });
}
