;; Built against a future troupe:executor@0.2.0.
(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (instance $e (export "name" (func $f)))
  (export "troupe:executor/stage-executor@0.2.0" (instance $e)))
