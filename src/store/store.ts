import { createHash } from 'node:crypto';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Kysely, PostgresDialect, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { HubError } from '../server/errors.ts';
import { type Logger, silentLogger } from '../telemetry/logger.ts';
import { type ApiKeysRepository, apiKeysRepository } from './api-keys.ts';
import { type AuthSecretsRepository, authSecretsRepository } from './auth-secrets.ts';
import { DatabaseThread, type ProcedureName, type ThreadProcedures } from './database-thread.ts';
import { migrate } from './migrations.ts';
import { PGliteDialect } from './pglite-dialect.ts';
import { type RefreshTokensRepository, refreshTokensRepository } from './refresh-tokens.ts';
import { type RolesRepository, rolesRepository } from './roles.ts';
import type { Database } from './schema.ts';
import { type ServersRepository, serversRepository } from './servers.ts';
import { type SettingsRepository, settingsRepository } from './settings.ts';
import { type SigningKeysRepository, signingKeysRepository } from './signing-keys.ts';
import { type UsersRepository, usersRepository } from './users.ts';

export interface StoreOptions {
  /** `postgres://…`: use PostgreSQL. Unset: embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  /** PGlite data directory (default `./data`); `:memory:` keeps everything in memory (tests). */
  dataDir?: string;
  /**
   * The schema to keep the tables in (created when missing); default: the connection's search_path
   * (`public`). Lets several hubs, or parallel test runs, share one database.
   */
  schema?: string;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  logger?: Logger;
}

export interface Repositories {
  servers: ServersRepository;
  roles: RolesRepository;
  users: UsersRepository;
  apiKeys: ApiKeysRepository;
  refreshTokens: RefreshTokensRepository;
  signingKeys: SigningKeysRepository;
  authSecrets: AuthSecretsRepository;
  settings: SettingsRepository;
}

/** Repositories bound to one open transaction, plus the raw transaction for anything else. */
export interface StoreTransaction extends Repositories {
  db: Transaction<Database>;
}

export type ChangeHandler = (topic: string) => void | Promise<void>;

export interface Store extends Repositories {
  readonly db: Kysely<Database>;
  readonly kind: 'postgres' | 'pglite';
  /** The NOTIFY channel change notifications travel on. */
  readonly channel: string;
  /**
   * Runs `fn` in one transaction: everything it does commits together or not at all. On PGlite use
   * only `tx` inside `fn` (the single connection is held by the transaction).
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** True when the database answers a trivial query within `timeoutMs` (for `/ready`). */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Tells every store on this database (other hub instances and this one) that `topic` changed. */
  notifyChange(topic: string): Promise<void>;
  /**
   * Calls `handler` when `topic` changes. After the listening connection was lost and restored,
   * every handler is called once, since notifications sent meanwhile are gone. Returns unsubscribe.
   */
  onChange(topic: string, handler: ChangeHandler): () => void;
  /**
   * Runs a procedure in a database thread, off the request path (the audit log appends there): the
   * embedded database's own thread, holding its session as a transaction would; with PostgreSQL, a
   * writer thread with its own connection.
   */
  readonly runInDatabaseThread: <P extends ProcedureName>(
    procedure: P,
    payload: ThreadProcedures[P][0],
  ) => Promise<ThreadProcedures[P][1]>;
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const BASE_CHANNEL = 'omnihub_changes';
const MAX_TOPIC = 200;

/** Per-schema channel so hubs sharing a database in different schemas don't wake each other. */
function channelFor(schema: string | undefined): string {
  if (schema === undefined) return BASE_CHANNEL;
  const name = `${BASE_CHANNEL}_${schema}`;
  // PostgreSQL channel names are identifiers: at most 63 bytes.
  return name.length <= 63
    ? name
    : `${BASE_CHANNEL}_${createHash('sha256').update(schema).digest('hex').slice(0, 32)}`;
}

function repositories(db: Kysely<Database>): Repositories {
  return {
    servers: serversRepository(db),
    roles: rolesRepository(db),
    users: usersRepository(db),
    apiKeys: apiKeysRepository(db),
    refreshTokens: refreshTokensRepository(db),
    signingKeys: signingKeysRepository(db),
    authSecrets: authSecretsRepository(db),
    settings: settingsRepository(db),
  };
}

/** Where a PostgreSQL URL points, without credentials: safe for logs and errors. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}

/** Fans one NOTIFY channel out to per-topic handlers. */
class ChangeBus {
  readonly #handlers = new Map<string, Set<ChangeHandler>>();
  readonly #logger: Logger;
  constructor(logger: Logger) {
    this.#logger = logger;
  }
  on(topic: string, handler: ChangeHandler): () => void {
    let set = this.#handlers.get(topic);
    if (!set) {
      set = new Set();
      this.#handlers.set(topic, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.#handlers.get(topic) === set) this.#handlers.delete(topic);
    };
  }
  emit(topic: string): void {
    for (const handler of this.#handlers.get(topic) ?? []) this.#call(handler, topic);
  }
  emitAll(): void {
    for (const [topic, set] of this.#handlers) for (const handler of set) this.#call(handler, topic);
  }
  clear(): void {
    this.#handlers.clear();
  }
  #call(handler: ChangeHandler, topic: string): void {
    try {
      const result = handler(topic);
      if (result instanceof Promise) {
        result.catch((err: unknown) => this.#logger.error({ err, topic }, 'change handler failed'));
      }
    } catch (err) {
      this.#logger.error({ err, topic }, 'change handler failed');
    }
  }
}

/**
 * Holds a dedicated connection in LISTEN on one channel (pooled connections can't listen: they are
 * handed to other queries). Reconnects with backoff when the connection is lost.
 */
class PgListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #bus: ChangeBus;
  readonly #logger: Logger;
  #client: pg.Client | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #delay = 250;

  constructor(config: pg.ClientConfig, channel: string, bus: ChangeBus, logger: Logger) {
    this.#config = config;
    this.#channel = channel;
    this.#bus = bus;
    this.#logger = logger;
  }

  /** The first connection must work: a hub that cannot hear changes would serve stale config. */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** The backend pid of the listening connection (tests use it to cut the connection). */
  get pid(): number | undefined {
    return (this.#client as (pg.Client & { processID?: number }) | undefined)?.processID;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#config);
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) this.#client = undefined;
      client.end().catch(() => {});
      if (this.#closed) return;
      this.#logger.warn({ err }, 'change listener connection lost; reconnecting');
      this.#schedule();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      if (msg.channel === this.#channel && msg.payload) this.#bus.emit(msg.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#channel)}`);
    } catch (err) {
      lost = true;
      client.end().catch(() => {});
      throw err;
    }
    if (this.#closed) {
      lost = true;
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#delay = 250;
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      try {
        await this.#connect();
        if (this.#closed) return;
        this.#logger.info('change listener reconnected');
        this.#bus.emitAll();
      } catch (err) {
        this.#delay = Math.min(this.#delay * 2, 10_000);
        this.#logger.warn({ err, retryInMs: this.#delay }, 'change listener reconnect failed');
        this.#schedule();
      }
    }, this.#delay);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }
}

class StoreImpl implements Store {
  readonly db: Kysely<Database>;
  readonly kind: 'postgres' | 'pglite';
  readonly channel: string;
  readonly servers: ServersRepository;
  readonly roles: RolesRepository;
  readonly users: UsersRepository;
  readonly apiKeys: ApiKeysRepository;
  readonly refreshTokens: RefreshTokensRepository;
  readonly signingKeys: SigningKeysRepository;
  readonly authSecrets: AuthSecretsRepository;
  readonly settings: SettingsRepository;
  readonly runInDatabaseThread: Store['runInDatabaseThread'];
  readonly #bus: ChangeBus;
  readonly #onClose: () => Promise<void>;
  #closing: Promise<void> | undefined;

  constructor(init: {
    db: Kysely<Database>;
    kind: 'postgres' | 'pglite';
    channel: string;
    bus: ChangeBus;
    onClose: () => Promise<void>;
    runInDatabaseThread: Store['runInDatabaseThread'];
  }) {
    this.db = init.db;
    this.runInDatabaseThread = init.runInDatabaseThread;
    this.kind = init.kind;
    this.channel = init.channel;
    this.#bus = init.bus;
    this.#onClose = init.onClose;
    const repos = repositories(init.db);
    this.servers = repos.servers;
    this.roles = repos.roles;
    this.users = repos.users;
    this.apiKeys = repos.apiKeys;
    this.refreshTokens = repos.refreshTokens;
    this.signingKeys = repos.signingKeys;
    this.authSecrets = repos.authSecrets;
    this.settings = repos.settings;
  }

  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((db) => fn({ db, ...repositories(db) }));
  }

  async ping(timeoutMs = 2_000): Promise<boolean> {
    if (this.#closing) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((res) => {
      timer = setTimeout(() => res(false), timeoutMs);
    });
    const query = sql`select 1`.execute(this.db).then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async notifyChange(topic: string): Promise<void> {
    if (topic.length === 0 || topic.length > MAX_TOPIC) {
      throw new HubError('INVALID_PARAMS', `A change topic has 1 to ${MAX_TOPIC} characters`);
    }
    await sql`select pg_notify(${this.channel}, ${topic})`.execute(this.db);
  }

  onChange(topic: string, handler: ChangeHandler): () => void {
    return this.#bus.on(topic, handler);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#bus.clear();
      await this.#onClose();
    })();
    return this.#closing;
  }
}

/** Opens the store (PostgreSQL when `databaseUrl` is set, else PGlite) and applies migrations. */
export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new HubError('CONFIG_INVALID', `Invalid schema name "${schema}" (lower-case letters, digits, _)`);
  }
  const channel = channelFor(schema);
  const bus = new ChangeBus(logger);
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options, { logger, schema, channel, bus })
    : openPGlite(options.dataDir ?? './data', { logger, schema, channel, bus });
}

interface OpenContext {
  logger: Logger;
  schema: string | undefined;
  channel: string;
  bus: ChangeBus;
}

async function openPostgres(url: string, options: StoreOptions, ctx: OpenContext): Promise<Store> {
  const target = describeUrl(url);
  const clientConfig: pg.ClientConfig = {
    connectionString: url,
    application_name: 'omnihub',
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
    ...(ctx.schema !== undefined ? { options: `-c search_path=${ctx.schema}` } : {}),
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  // An idle pooled connection that dies emits here; without a listener it would crash the process.
  pool.on('error', (err) => ctx.logger.warn({ err }, 'idle PostgreSQL connection failed'));
  // pg-pool drops its listener while a connection is checked out (e.g. inside a transaction): a server
  // that goes away then would raise an unhandled 'error' and kill the process. The query fails anyway.
  pool.on('connect', (client) => {
    client.on('error', (err) => ctx.logger.warn({ err }, 'PostgreSQL connection failed'));
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const listener = new PgListener(clientConfig, ctx.channel, ctx.bus, ctx.logger);
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw new HubError(
      'STORE_UNAVAILABLE',
      `Cannot connect to PostgreSQL at ${target}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  try {
    const { applied, current } = await migrate(db, ctx.schema);
    ctx.logger.info(
      { database: target, schema: ctx.schema, applied, version: current },
      'store ready (PostgreSQL)',
    );
    await listener.start();
  } catch (err) {
    await listener.close();
    await db.destroy().catch(() => {});
    throw err instanceof HubError
      ? err
      : new HubError(
          'STORE_UNAVAILABLE',
          `Cannot prepare the PostgreSQL store at ${target}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
  }
  const writer = new WriterThread(() => DatabaseThread.open('postgres', { client: clientConfig }));
  const store = new StoreImpl({
    db,
    kind: 'postgres',
    channel: ctx.channel,
    bus: ctx.bus,
    runInDatabaseThread: async (procedure, payload) => (await writer.get()).call(procedure, payload),
    onClose: async () => {
      await writer.close();
      await listener.close();
      await db.destroy();
    },
  });
  listeners.set(store, listener);
  return store;
}

/**
 * PostgreSQL's writer thread (the audit log appends there, on its own connection), started on first
 * use, so commands that never write audit events never start it, and started again if it died.
 */
class WriterThread {
  readonly #open: () => Promise<DatabaseThread>;
  #thread: Promise<DatabaseThread> | undefined;
  #closed = false;
  constructor(open: () => Promise<DatabaseThread>) {
    this.#open = open;
  }

  async get(): Promise<DatabaseThread> {
    if (this.#closed) throw new Error('The store is closed');
    this.#thread ??= this.#open();
    const opening = this.#thread;
    const thread = await opening.catch((err: unknown) => {
      // The thread could not start: the next call tries again.
      if (this.#thread === opening) this.#thread = undefined;
      throw err;
    });
    if (!thread.stopped) return thread;
    if (this.#thread === opening) this.#thread = undefined;
    return this.get();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const thread = await this.#thread?.catch(() => undefined);
    await thread?.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Data directories this process holds: tells our own live lock from one left by a previous run with our pid. */
const heldDataDirs = new Set<string>();

/**
 * PGlite does not lock its data directory, and two processes writing one directory corrupt it.
 * A pid file refuses the second opener; a file left by a dead process is taken over. In a container
 * a restarted hub often gets the same pid as the crashed one, so our own pid counts only when this
 * process really holds the directory.
 */
async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'omnihub.lock');
  if (heldDataDirs.has(dir)) {
    throw new HubError(
      'STORE_UNAVAILABLE',
      `The embedded database in ${dir} is already open in this process`,
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      heldDataDirs.add(dir);
      return async () => {
        heldDataDirs.delete(dir);
        await unlink(file).catch(() => {});
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(await readFile(file, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new HubError(
          'STORE_UNAVAILABLE',
          `The embedded database in ${dir} is in use by process ${pid}; stop it, or use PostgreSQL ` +
            '(DATABASE_URL) to run several hub instances',
        );
      }
      await unlink(file).catch(() => {});
    }
  }
  throw new HubError('STORE_UNAVAILABLE', `Cannot lock the embedded database in ${dir}`);
}

async function openPGlite(dataDir: string, ctx: OpenContext): Promise<Store> {
  const memory = dataDir === ':memory:' || dataDir.startsWith('memory://');
  const location = memory ? 'memory://' : resolve(dataDir);
  let unlock = async () => {};
  let thread: DatabaseThread;
  try {
    if (!memory) {
      await mkdir(location, { recursive: true });
      unlock = await lockDataDir(location);
    }
    // The database runs on its own thread (pglite-worker.ts), off the request path. The hub's
    // tables are small and hot: 16 MB of buffers instead of 128 MB saves ~80 MB of RSS.
    const init = {
      location,
      postgresqlconf: ['shared_buffers=16MB'],
      channel: ctx.channel,
      schema: ctx.schema,
    };
    thread = await DatabaseThread.open('pglite', init, {
      onNotify: (topic) => {
        if (topic) ctx.bus.emit(topic);
      },
      onStopped: (err) =>
        ctx.logger.error(
          { err },
          'the embedded database stopped: restart the hub (audit events go to the spool)',
        ),
    });
  } catch (err) {
    await unlock();
    if (err instanceof HubError) throw err;
    const message = `Cannot open the embedded database in ${location}: ${(err as Error).message}`;
    throw new HubError('STORE_UNAVAILABLE', message, { cause: err });
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect({ database: thread }) });
  try {
    const { applied, current } = await migrate(db, ctx.schema);
    ctx.logger.info({ dataDir: location, applied, version: current }, 'store ready (embedded PGlite)');
  } catch (err) {
    await db.destroy().catch(() => {});
    await unlock();
    throw err instanceof HubError
      ? err
      : new HubError('STORE_UNAVAILABLE', `Cannot prepare the embedded database: ${(err as Error).message}`, {
          cause: err,
        });
  }
  return new StoreImpl({
    db,
    kind: 'pglite',
    channel: ctx.channel,
    bus: ctx.bus,
    // Holding a Kysely connection is holding the session: nothing else interleaves.
    runInDatabaseThread: (procedure, payload) =>
      db.connection().execute(() => thread.call(procedure, payload)),
    onClose: async () => {
      await db.destroy();
      await unlock();
    },
  });
}

const listeners = new WeakMap<Store, PgListener>();

/** The backend pid of a PostgreSQL store's LISTEN connection; for tests that cut it. */
export function listenerPid(store: Store): number | undefined {
  return listeners.get(store)?.pid;
}
