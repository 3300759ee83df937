// `node --import ./scripts/lib/kysely-0.28.mjs ...` runs the program against kysely 0.28.
import { register } from 'node:module'

register('./kysely-0.28-hook.mjs', import.meta.url)
