// Shared prelude: must be imported BEFORE capnweb.
// Node 20 has no global WebSocket, and capnweb 0.12 reads the global `WebSocket`
// (e.g. `WebSocket.CONNECTING`) even when it is handed an already-constructed socket.
import { WebSocket } from 'ws';

globalThis.WebSocket ??= WebSocket;

export { WebSocket };
