;; Built against troupe:executor@0.9.0, a version this host does not speak.
(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (instance $e (export "name" (func $f)))
  (export "troupe:executor/stage-executor@0.9.0" (instance $e)))
