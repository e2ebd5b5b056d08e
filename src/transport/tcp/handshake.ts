/**
 * Mutual challenge–response authentication with a shared secret.
 *
 *   server → client  hello   { nonce: Ns }
 *   client → server  auth    { nodeId: C, proof: HMAC(secret, "client" + Ns + C), nonce: Nc }
 *   server → client  welcome { nodeId: S, proof: HMAC(secret, "server" + Nc + S) }   (or denied)
 *
 * Each side proves it knows the secret over a nonce the other side chose, so a recorded
 * exchange cannot be replayed and the secret itself never crosses the wire.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthFrame, DeniedFrame, HandshakeFrame, HelloFrame, WelcomeFrame } from './frame.ts';

const NONCE_BYTES = 32;

/** Handshake frames are tiny; a larger one before authentication is hostile or broken. */
export const HANDSHAKE_MAX_FRAME_BYTES = 64 * 1024;

export function createNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/**
 * Each direction's proof starts with its own label. Were both computed alike, a client would
 * accept its own proof as the server's: a listener without the secret, dialled twice by one
 * node, sends the first connection's client nonce as the second connection's hello, and sends
 * the proof the client gives there back on the first as its welcome.
 */
const CLIENT_PROOF_LABEL = Buffer.from('shoal-auth client\0', 'utf8');
const SERVER_PROOF_LABEL = Buffer.from('shoal-auth server\0', 'utf8');

function hmacProof(secret: string, label: Buffer, nonce: Uint8Array, nodeId: string): Buffer {
  return createHmac('sha256', secret).update(label).update(nonce).update(nodeId, 'utf8').digest();
}

/** The connecting node's proof (auth frame), over the nonce of the server's hello. */
export function computeProof(secret: string, nonce: Uint8Array, nodeId: string): Buffer {
  return hmacProof(secret, CLIENT_PROOF_LABEL, nonce, nodeId);
}

/** The accepting node's proof (welcome frame), over the nonce of the client's auth. */
export function computeWelcomeProof(secret: string, nonce: Uint8Array, nodeId: string): Buffer {
  return hmacProof(secret, SERVER_PROOF_LABEL, nonce, nodeId);
}

function verifyProof(expected: Buffer, proof: Uint8Array): boolean {
  // timingSafeEqual throws on different lengths, so the length is compared first.
  return proof.length === expected.length && timingSafeEqual(expected, proof);
}

/** What a side does after a handshake frame arrives. */
export type HandshakeStep =
  | { kind: 'send'; frame: HandshakeFrame }
  | { kind: 'authenticated'; peerNodeId: string; reply?: HandshakeFrame }
  | { kind: 'failed'; reason: 'unauthorized' | 'protocol'; message: string; reply?: DeniedFrame };

const denied: DeniedFrame = { t: 'denied' };

/** The accepting side: sends the first nonce, checks the client, then proves itself. */
export class ServerHandshake {
  private readonly secret: string;
  private readonly nodeId: string;
  private readonly nonce = createNonce();

  constructor(secret: string, nodeId: string) {
    this.secret = secret;
    this.nodeId = nodeId;
  }

  hello(): HelloFrame {
    return { t: 'hello', nonce: this.nonce };
  }

  receive(frame: HandshakeFrame): HandshakeStep {
    if (frame.t !== 'auth') {
      return { kind: 'failed', reason: 'protocol', message: `expected auth, got ${frame.t}` };
    }
    const auth: AuthFrame = frame;
    if (!verifyProof(computeProof(this.secret, this.nonce, auth.nodeId), auth.proof)) {
      return { kind: 'failed', reason: 'unauthorized', message: 'client proof does not match the secret', reply: denied };
    }
    const welcome: WelcomeFrame = {
      t: 'welcome',
      nodeId: this.nodeId,
      proof: computeWelcomeProof(this.secret, auth.nonce, this.nodeId),
    };
    return { kind: 'authenticated', peerNodeId: auth.nodeId, reply: welcome };
  }
}

/** The connecting side: answers the server's nonce, then checks the server's proof. */
export class ClientHandshake {
  private readonly secret: string;
  private readonly nodeId: string;
  private readonly nonce = createNonce();
  private answered = false;

  constructor(secret: string, nodeId: string) {
    this.secret = secret;
    this.nodeId = nodeId;
  }

  receive(frame: HandshakeFrame): HandshakeStep {
    if (frame.t === 'hello' && !this.answered) {
      this.answered = true;
      const auth: AuthFrame = {
        t: 'auth',
        nodeId: this.nodeId,
        proof: computeProof(this.secret, frame.nonce, this.nodeId),
        nonce: this.nonce,
      };
      return { kind: 'send', frame: auth };
    }
    if (frame.t === 'denied') {
      return { kind: 'failed', reason: 'unauthorized', message: 'server rejected this node\'s proof' };
    }
    if (frame.t === 'welcome' && this.answered) {
      if (!verifyProof(computeWelcomeProof(this.secret, this.nonce, frame.nodeId), frame.proof)) {
        return { kind: 'failed', reason: 'unauthorized', message: 'server proof does not match the secret' };
      }
      return { kind: 'authenticated', peerNodeId: frame.nodeId };
    }
    return { kind: 'failed', reason: 'protocol', message: `unexpected ${frame.t} during handshake` };
  }
}
