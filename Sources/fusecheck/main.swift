import FuseCheckHarness
print("hi")
