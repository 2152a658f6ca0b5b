from gpusetup.cli import main

main()
