// Resolve hook: makes `import 'kysely'` load the kysely 0.28 copy installed as `kysely-0.28`, so the
// same compiled tests run against both supported kysely minors. Registered by kysely-0.28.mjs.
export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'kysely' || specifier.startsWith('kysely/')) {
    return nextResolve(specifier.replace(/^kysely/, 'kysely-0.28'), context)
  }
  return nextResolve(specifier, context)
}
