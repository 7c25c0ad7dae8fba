;; Exports the stage-executor interface name, with the wrong functions in it.
(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (instance $e (export "name" (func $f)))
  (export "troupe:executor/stage-executor@0.1.0" (instance $e)))
