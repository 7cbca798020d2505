
// Appended to wasm-bindgen's glue by `cargo xtask build` (evaluator-wasm/npm/freed.js; DESIGN.md
// §6): after `free()`, methods answer `{ok: false, error: {code: "freed"}}` instead of throwing,
// `free()` again does nothing, and the getters (fixed when the bundle opens, read then) still
// answer.
{
  const proto = Engine.prototype;
  const getters = Object.entries(Object.getOwnPropertyDescriptors(proto)).filter(
    ([, d]) => typeof d.get === "function",
  );
  const wrap = Engine.__wrap;
  Engine.__wrap = function (ptr) {
    const engine = wrap.call(this, ptr);
    const facts = {};
    for (const [name, d] of getters) {
      const value = d.get.call(engine);
      facts[name] = typeof value === "object" && value !== null ? Object.freeze(value) : value;
    }
    Object.defineProperty(engine, "__promoseal_facts", { value: Object.freeze(facts) });
    return engine;
  };
  for (const [name] of getters) {
    Object.defineProperty(proto, name, {
      get() {
        return this.__promoseal_facts[name];
      },
      configurable: true,
    });
  }
  const freed = () => ({
    ok: false,
    error: { code: "freed", message: "this Engine was freed: open the bundle again" },
  });
  for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
    const call = d.value;
    if (typeof call !== "function" || name === "constructor" || name.startsWith("__")) continue;
    proto[name] =
      name === "free"
        ? function () {
            if (this.__wbg_ptr !== 0) call.call(this);
          }
        : function (...args) {
            return this.__wbg_ptr === 0 ? freed() : call.apply(this, args);
          };
  }
  if (Symbol.dispose) proto[Symbol.dispose] = proto.free;
}
