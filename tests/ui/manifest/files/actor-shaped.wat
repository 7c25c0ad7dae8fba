;; Exports the actor interface, not the stage executor.
(component
  (core module $m (func (export "f")))
  (core instance $i (instantiate $m))
  (func $f (canon lift (core func $i "f")))
  (instance $e (export "invoke" (func $f)))
  (export "troupe:executor/actor@0.1.0" (instance $e)))
