/**
 * Both transports' event streams tell the server when the page is hidden or shown (direct:
 * `{"visible": false|true}` on the WebSocket; through the kernel: `{type: "visible", sid, visible}`,
 * which the kernel passes on), so a hidden tab stops counting as watching. Node has no DOM: a
 * fake WebSocket and a fake document (an EventTarget with `hidden`) stand in for the browser's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { DirectTransport } from '../src/transport/direct';
import { KernelTransport } from '../src/transport/kernel';

class FakeSocket {
  static OPEN = 1;
  static made: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }
}

const page = Object.assign(new EventTarget(), { hidden: false });
(globalThis as any).WebSocket = FakeSocket;
(globalThis as any).document = page;

function show(hidden: boolean): void {
  page.hidden = hidden;
  page.dispatchEvent(new Event('visibilitychange'));
}

function stream(): FakeSocket {
  new DirectTransport({ baseUrl: 'http://h:8888/' }).connect(['jobs'], null, { onMessage: () => undefined });
  return FakeSocket.made[FakeSocket.made.length - 1];
}

test('a visible page says nothing; hiding and showing the tab tell the server, until the stream is closed', () => {
  page.hidden = false;
  const transport = new DirectTransport({ baseUrl: 'http://h:8888/' });
  const conn = transport.connect(['jobs'], null, { onMessage: () => undefined });
  const ws = FakeSocket.made[FakeSocket.made.length - 1];
  show(true); // not open yet: nothing to send (on open it says so)
  show(false);
  ws.open();
  assert.deepEqual(ws.sent, []); // visible, the server's default
  show(true);
  show(false);
  assert.deepEqual(ws.sent, [{ visible: false }, { visible: true }]);
  conn.close();
  show(true);
  assert.deepEqual(ws.sent, [{ visible: false }, { visible: true }]); // the listener went with the stream
});

test('a stream opened in a hidden tab says so on open; a stream the server closed stops listening', () => {
  page.hidden = true;
  const ws = stream();
  ws.open();
  assert.deepEqual(ws.sent, [{ visible: false }]);
  ws.readyState = 3;
  ws.onclose?.({ code: 1006, reason: '' });
  show(false);
  assert.deepEqual(ws.sent, [{ visible: false }]);
});

test('through the kernel: each stream tells the kernel when the page is hidden or shown, until it is closed', () => {
  page.hidden = false;
  const sent: any[] = [];
  let toView: (content: any) => void = () => undefined;
  const model = { send: (c: any) => sent.push(c), on: (_e: string, fn: any) => (toView = fn), off: () => undefined };
  const transport = new KernelTransport(model);
  const conn = transport.connect(['jobs'], null, { onMessage: () => undefined });
  const other = transport.connect(['gpus'], null, { onMessage: () => undefined });
  assert.deepEqual(sent.map(c => c.type), ['subscribe', 'subscribe']); // visible: nothing said
  show(true);
  assert.deepEqual(sent.slice(2), [{ type: 'visible', sid: 1, visible: false }, { type: 'visible', sid: 2, visible: false }]);
  toView({ type: 'stream-closed', sid: 2, error: 'gone' }); // the kernel's stream ended: stop telling it
  conn.close();
  show(false);
  assert.deepEqual(sent.slice(4), [{ type: 'unsubscribe', sid: 1 }]);
  other.close();
  page.hidden = true;
  transport.connect(['jobs'], null, { onMessage: () => undefined }); // opened hidden: said at once
  assert.deepEqual(sent.slice(-2), [{ type: 'subscribe', sid: 3, topics: ['jobs'], since: null },
    { type: 'visible', sid: 3, visible: false }]);
});
