from patron.cli.start import main

main()
