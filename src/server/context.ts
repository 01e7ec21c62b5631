import type { Clap } from '../tasks/clap.js';
import type { ClapCap } from '../tasks/clapcap.js';
import type { ClapIndex } from '../tasks/clap-index.js';
import type { Access } from './access.js';
import type { Library } from './library.js';
import type { Media } from './media.js';
import type { PathGuard } from './paths.js';
import type { Uploads } from './uploads.js';

/** What the route handlers share: the model and index, and the server's guards and services. */
export interface ServerContext {
  clap: Clap;
  index: ClapIndex;
  /** clapcap weights, when captioning is on. */
  captioner?: ClapCap;
  access: Access;
  guard: PathGuard;
  library: Library;
  media: Media;
  uploads: Uploads;
}

/** Route option `config.changesState`: the route changes the library (needs the token). */
declare module 'fastify' {
  interface FastifyContextConfig {
    changesState?: boolean;
  }
}
