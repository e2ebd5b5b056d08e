import { randomBytes } from 'node:crypto';
import { action, defineService, ShoalError, z, type Context } from '../../src/core/index.ts';
import { defineCollection, type CollectionClient } from '../../src/data/index.ts';

/**
 * The URL shortener's links and click counts live in the sharded document store: each link is
 * a document partitioned by its code, so reads and writes of one link go to one shard.
 */
export interface Link extends Record<string, unknown> {
  code: string;
  url: string;
  createdAt: number;
}

export interface ClickCount extends Record<string, unknown> {
  code: string;
  clicks: number;
}

const codeAlphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function newCode(): string {
  const bytes = randomBytes(7);
  let code = '';
  for (const byte of bytes) code += codeAlphabet[byte % codeAlphabet.length];
  return code;
}

const url = z.url({ protocol: /^https?$/ }).max(2048);
const code = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, - or _ (at most 64)');

export const links = defineCollection<Link>({
  name: 'links',
  key: 'code',
  schema: z.object({ code, url, createdAt: z.number() }),
  indexes: [{ name: 'by_created', fields: ['createdAt'] }],
});

export const clickCounts = defineCollection<ClickCount>({ name: 'clicks', key: 'code' });

declare module '../../src/data/index.ts' {
  interface DataCollections {
    links: CollectionClient<Link>;
    clicks: CollectionClient<ClickCount>;
  }
}

/** Stores a link under a code that must be new: insert fails with CONFLICT when the code is taken. */
async function storeLink(ctx: Context, linkCode: string, linkUrl: string): Promise<void> {
  await ctx.data.links.insert({ code: linkCode, url: linkUrl, createdAt: Date.now() });
}

async function createWithFreshCode(ctx: Context, linkUrl: string): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const candidate = newCode();
    try {
      await storeLink(ctx, candidate, linkUrl);
      return candidate;
    } catch (err) {
      if (!(err instanceof ShoalError && err.code === 'CONFLICT')) throw err;
    }
  }
  throw new ShoalError('INTERNAL', 'could not find a free code');
}

async function loadLink(ctx: Context, linkCode: string): Promise<Link> {
  const stored = await ctx.data.links.get(linkCode);
  if (!stored) throw new ShoalError('NOT_FOUND', `no link with code ${linkCode}`, { code: linkCode });
  return stored.doc;
}

export const linksV1 = defineService({
  name: 'links',
  version: 1,
  actions: {
    create: action({
      params: z.object({ url }),
      rest: { method: 'POST', path: '/v1/links' },
      handler: async (ctx, params) => ({ code: await createWithFreshCode(ctx, params.url), url: params.url }),
    }),
    resolve: action({
      params: z.object({ code }),
      idempotent: true,
      rest: { method: 'GET', path: '/v1/links/:code' },
      handler: async (ctx, params) => {
        const link = await loadLink(ctx, params.code);
        await ctx.emit('link.clicked', { code: params.code, at: Date.now() });
        return { url: link.url };
      },
    }),
  },
});

export const linksV2 = defineService({
  name: 'links',
  version: 2,
  actions: {
    create: action({
      params: z.object({ url, alias: code.optional() }),
      rest: { method: 'POST', path: '/v2/links' },
      handler: async (ctx, params) => {
        if (params.alias === undefined) return { code: await createWithFreshCode(ctx, params.url), url: params.url };
        try {
          await storeLink(ctx, params.alias, params.url);
        } catch (err) {
          if (err instanceof ShoalError && err.code === 'CONFLICT') {
            throw new ShoalError('CONFLICT', `alias ${params.alias} is taken`, { alias: params.alias });
          }
          throw err;
        }
        return { code: params.alias, url: params.url };
      },
    }),
    resolve: action({
      params: z.object({ code }),
      idempotent: true,
      rest: { method: 'GET', path: '/v2/links/:code' },
      handler: async (ctx, params) => {
        const link = await loadLink(ctx, params.code);
        await ctx.emit('link.clicked', { code: params.code, at: Date.now() });
        const { clicks } = await ctx.call(analytics, 'clicks', { code: params.code });
        return { url: link.url, clicks };
      },
    }),
  },
});

const clickedEvent = z.object({ code, at: z.number() });

/** Counts clicks from `link.clicked` events; an increment is one atomic write on the link's shard. */
export const analytics = defineService({
  name: 'analytics',
  version: 1,
  events: {
    'link.clicked': {
      schema: clickedEvent,
      handler: async (ctx: Context, payload: z.output<typeof clickedEvent>) => {
        await ctx.data.clicks.increment(payload.code, { clicks: 1 });
      },
    },
  },
  actions: {
    clicks: action({
      params: z.object({ code }),
      idempotent: true,
      handler: async (ctx, params) => {
        const stored = await ctx.data.clicks.get(params.code);
        return { code: params.code, clicks: stored?.doc.clicks ?? 0 };
      },
    }),
    top: action({
      params: z.object({ limit: z.number().int().min(1).max(100).default(10) }),
      idempotent: true,
      description: 'The most clicked links, across every shard',
      handler: async (ctx, params) => {
        const rows = await ctx.data.clicks.query({ orderBy: [{ field: 'clicks', direction: 'desc' }], limit: params.limit, select: ['code', 'clicks'] });
        return { top: rows.map((r) => ({ code: r.code, clicks: r.clicks })) };
      },
    }),
  },
});
