// The live room: this module owns the socket. It reconnects with backoff, resumes from the
// last sequence number, and renders everything from one state object.
import { api, retryDelay } from './api.js';
import { t, problemText } from './i18n.js';
import { el, message } from './ui.js';
import { ballotPanel, resultView } from './voting.js';

let current = null;

/** Leaves the room when the page changes. */
export function leave() {
  if (current) current.stop();
  current = null;
}

export async function room(main, params, id) {
  leave();
  let info;
  try { info = await api.get(`/sessions/${id}`); } catch (err) { main.replaceChildren(message('error', problemText(err))); return; }
  // The user may have moved on while the session was read: then no socket is opened.
  if (main.current === false) return;
  const state = {
    info, you: null, chair: false, lastSeq: 0, status: info.status, currentItem: info.current_item_id,
    // In a crowd (hundreds present) the server sends how many are here, not who.
    present: {}, crowd: false, presentCount: 0, hands: [], speaker: null, chat: [], removed: new Set(), connected: false, error: null,
    // Polls announced in the room, by id: the server's view of each, and its panel (kept, so
    // that a voter's half-made choice survives other events).
    polls: new Map(), drafts: [],
  };
  const view = {
    status: el('p', { class: 'hint', role: 'status' }),
    agenda: el('ol', { class: 'agenda' }),
    speaker: el('div', { class: 'speaker', 'aria-live': 'polite' }),
    hands: el('ul', { class: 'hands' }),
    present: el('ul', { class: 'present' }),
    chat: el('ul', { class: 'chat', 'aria-live': 'polite' }),
    controls: el('div', { class: 'actions' }),
    chairControls: el('div', { class: 'actions chair' }),
    votes: el('div', { class: 'votes', 'aria-live': 'polite' }),
  };
  let socket = null;
  let stopped = false;
  let backoff = 500;
  let ticker = null;

  const send = (msg) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
  };

  function apply(e) {
    if (e.seq <= state.lastSeq) return;
    state.lastSeq = e.seq;
    const p = e.payload;
    switch (e.kind) {
      case 'presence.joined': state.present[p.user_id] = p.name; break;
      case 'presence.left': delete state.present[p.user_id]; break;
      case 'presence.changed':
        if (p.crowd) {
          state.crowd = true;
          state.presentCount = p.present_count;
        }
        for (const c of p.changes ?? []) {
          if (c.op === 'joined') state.present[c.user_id] = c.name; else delete state.present[c.user_id];
        }
        break;
      case 'chat.posted': state.chat.push({ seq: e.seq, name: p.name, text: p.text, item: p.item_id }); break;
      case 'chat.removed': state.removed.add(p.seq); break;
      case 'hand.raised': if (!state.hands.some((h) => h.user_id === p.user_id)) state.hands.push({ user_id: p.user_id, name: p.name }); break;
      case 'hand.lowered': state.hands = state.hands.filter((h) => h.user_id !== p.user_id); break;
      case 'floor.given': state.hands = state.hands.filter((h) => h.user_id !== p.user_id); state.speaker = { user_id: p.user_id, name: p.name, until: p.until }; break;
      case 'floor.ended': state.speaker = null; break;
      case 'item.changed': state.currentItem = p.item_id; break;
      case 'session.adjourned': state.status = 'adjourned'; break;
      case 'session.resumed': state.status = 'open'; break;
      case 'session.closed': state.status = 'closed'; state.speaker = null; state.hands = []; break;
      case 'poll.opened': case 'poll.closed': refreshPoll(p.poll_id); break;
      case 'poll.tally': {
        const entry = state.polls.get(p.poll_id);
        if (entry?.view) { entry.view.tally = p.options; entry.view.participation = p.participants; entry.tallyNode = null; }
        break;
      }
      default: break;
    }
  }

  /** Fetches a poll's view (with what this person may vote for) and renders it. */
  async function refreshPoll(pollId) {
    try {
      const poll = await api.get(`/polls/${pollId}`);
      state.polls.set(pollId, { view: poll, panel: null, tallyNode: null });
      state.drafts = state.drafts.filter((d) => d.id !== pollId);
      render();
    } catch { /* not visible to this person */ }
  }

  async function loadDrafts() {
    if (!state.chair) return;
    try { state.drafts = (await api.get(`/polls?session_id=${id}`)).filter((p) => p.status === 'draft'); } catch { state.drafts = []; }
    render();
  }

  function renderVotes() {
    const blocks = [];
    for (const [pollId, entry] of state.polls) {
      const poll = entry.view;
      if (!entry.panel) {
        entry.panel = el('div', { class: 'poll-live' },
          el('h3', { text: poll.question }),
          poll.status === 'open' ? ballotPanel(poll) : resultView(poll));
        if (state.chair && poll.status === 'open') {
          const close = el('button', { type: 'button', class: 'secondary', text: t('poll.close') });
          close.addEventListener('click', async () => {
            try { await api.post(`/polls/${pollId}/close`); } catch (err) { entry.panel.prepend(message('error', problemText(err))); }
          });
          entry.panel.append(el('div', { class: 'actions' }, close));
        }
      }
      if (poll.status === 'open' && poll.tally && !entry.tallyNode) {
        entry.tallyNode = el('p', { class: 'hint tally', text: poll.tally.map((o) => `${o.label === o.id ? t(`poll.choice.${o.id}`) : o.label} ${o.headcount}`).join(' · ') });
      }
      blocks.push(entry.panel);
      if (poll.status === 'open' && entry.tallyNode) blocks.push(entry.tallyNode);
    }
    if (state.chair) {
      for (const d of state.drafts) {
        const b = el('button', { type: 'button', text: t('poll.openNamed', { question: d.question }) });
        b.addEventListener('click', async () => {
          try { await api.post(`/polls/${d.id}/open`); } catch (err) { view.votes.prepend(message('error', problemText(err))); }
        });
        blocks.push(b);
      }
      blocks.push(el('a', { class: 'button secondary', href: `#/polls/new?session=${id}${state.currentItem ? `&item=${state.currentItem}` : ''}`, text: t('poll.create') }));
    }
    if (!blocks.length) blocks.push(el('p', { class: 'hint', text: t('poll.noneLive') }));
    view.votes.replaceChildren(...blocks);
  }

  function adopt(snapshot) {
    state.lastSeq = snapshot.last_seq;
    state.status = snapshot.status;
    state.currentItem = snapshot.current_item_id;
    state.present = { ...snapshot.present };
    state.crowd = Boolean(snapshot.crowd);
    state.presentCount = snapshot.present_count ?? Object.keys(snapshot.present).length;
    state.hands = snapshot.hands;
    state.speaker = snapshot.speaker;
    for (const seq of snapshot.removed) state.removed.add(seq);
  }

  function render() {
    view.status.textContent = state.connected
      ? t('live.connected', { status: t(`session.status.${state.status}`) })
      : state.error ?? t('live.reconnecting');
    view.agenda.replaceChildren(...state.info.agenda.map((a) => el('li', { class: a.id === state.currentItem ? 'current' : null, 'aria-current': a.id === state.currentItem ? 'step' : null, text: a.title })));
    if (state.speaker) {
      const left = Math.max(0, Math.round((new Date(state.speaker.until) - Date.now()) / 1000));
      view.speaker.replaceChildren(el('strong', { text: t('live.speaking', { name: state.speaker.name }) }), ' ',
        el('span', { class: 'countdown', text: t('live.remaining', { minutes: Math.floor(left / 60), seconds: String(left % 60).padStart(2, '0') }) }));
    } else {
      view.speaker.replaceChildren(el('span', { class: 'hint', text: t('live.nobodySpeaking') }));
    }
    view.hands.replaceChildren(...state.hands.map((h) => {
      const li = el('li', { text: h.name });
      if (state.chair) {
        const give = el('button', { type: 'button', text: t('live.giveFloor') });
        give.addEventListener('click', () => send({ type: 'give_floor', user_id: h.user_id, seconds: 180 }));
        li.append(' ', give);
      }
      return li;
    }));
    view.present.replaceChildren(...(state.crowd
      ? [el('li', { class: 'hint', text: t('live.crowd', { count: state.presentCount }) })]
      : Object.values(state.present).map((name) => el('li', { text: name }))));
    const items = state.chat.filter((c) => !state.removed.has(c.seq)).slice(-200);
    view.chat.replaceChildren(...items.map((c) => el('li', {}, el('strong', { text: `${c.name}: ` }), c.text)));
    const raised = state.hands.some((h) => h.user_id === state.you);
    const hand = el('button', { type: 'button', text: raised ? t('live.lowerHand') : t('live.raiseHand') });
    hand.addEventListener('click', () => send({ type: raised ? 'lower_hand' : 'raise_hand' }));
    view.controls.replaceChildren(hand);
    view.chairControls.replaceChildren();
    if (state.chair) {
      const chairButton = (key, msg) => {
        const b = el('button', { type: 'button', class: 'secondary', text: t(key) });
        b.addEventListener('click', () => send(msg));
        return b;
      };
      if (state.speaker) view.chairControls.append(chairButton('live.takeFloor', { type: 'take_floor' }));
      view.chairControls.append(chairButton('live.nextItem', { type: 'next_item' }));
      view.chairControls.append(state.status === 'adjourned' ? chairButton('live.resume', { type: 'resume' }) : chairButton('live.adjourn', { type: 'adjourn' }));
      view.chairControls.append(chairButton('live.close', { type: 'close' }));
    }
    renderVotes();
  }

  async function connect() {
    if (stopped) return;
    let ticket;
    try {
      ticket = (await api.post(`/sessions/${id}/tickets`)).ticket;
    } catch (err) {
      state.error = problemText(err);
      render();
      // A busy server (503, 429) or a lost network is tried again later; a refusal is final.
      if (!err.status || err.status === 503 || err.status === 429) {
        setTimeout(connect, retryDelay(backoff));
        backoff = Math.min(backoff * 2, 15000);
      }
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    // Always resume from the last event seen (0 at first): the server replays the room's
    // history, or sends a snapshot when there is too much of it.
    const resume = `&last_seq=${state.lastSeq}`;
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/sessions/${id}/live?ticket=${encodeURIComponent(ticket)}${resume}`);
    socket.addEventListener('message', (m) => {
      const frame = JSON.parse(m.data);
      if (frame.type === 'welcome') {
        state.you = frame.you;
        state.chair = frame.chair;
        state.connected = true;
        state.error = null;
        backoff = 500;
        loadDrafts();
      } else if (frame.type === 'snapshot') {
        adopt(frame.state);
      } else if (frame.type === 'event') {
        apply(frame);
      } else if (frame.type === 'error') {
        view.status.textContent = frame.message;
        return;
      }
      render();
    });
    socket.addEventListener('close', (c) => {
      state.connected = false;
      render();
      if (stopped || c.code === 4010) return;
      setTimeout(connect, retryDelay(backoff));
      backoff = Math.min(backoff * 2, 15000);
    });
  }

  const input = el('input', { type: 'text', maxlength: 1000, id: 'chat-input' });
  const form = el('form', { class: 'chat-form' }, el('label', { for: 'chat-input', text: t('live.chatLabel') }), input, el('button', { type: 'submit', text: t('live.send') }));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value.trim()) send({ type: 'chat', text: input.value });
    input.value = '';
  });
  main.replaceChildren(
    el('h1', { text: info.title }), view.status,
    el('div', { class: 'room' },
      el('section', { 'aria-labelledby': 'agenda-h' }, el('h2', { id: 'agenda-h', text: t('session.agenda') }), view.agenda),
      el('section', { 'aria-labelledby': 'floor-h' }, el('h2', { id: 'floor-h', text: t('live.floor') }), view.speaker, el('h3', { text: t('live.hands') }), view.hands, view.controls, view.chairControls),
      el('section', { 'aria-labelledby': 'votes-h', class: 'votes-section' }, el('h2', { id: 'votes-h', text: t('poll.live') }), view.votes),
      el('section', { 'aria-labelledby': 'chat-h' }, el('h2', { id: 'chat-h', text: t('live.chat') }), view.chat, form),
      el('section', { 'aria-labelledby': 'present-h' }, el('h2', { id: 'present-h', text: t('live.present') }), view.present)));
  ticker = setInterval(() => { if (state.speaker) render(); }, 1000);
  current = {
    stop() {
      stopped = true;
      clearInterval(ticker);
      if (socket) socket.close(1000);
    },
  };
  render();
  await connect();
}
