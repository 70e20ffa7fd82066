# Azs.Backup.Admin's scope parameters (-Location, -ResourceGroupName, -SubscriptionId, and
# -InputObject where that module has it) on every cmdlet that has them there, against a real daemon:
# scripts written for Microsoft's module run unchanged when they name this deployment's location;
# another location stops before anything is done. Which cmdlets have which parameter: the
# Azs.Backup.Admin 1.0 reference (learn.microsoft.com/powershell/module/azs.backup.admin, syntax of
# Get-AzsBackup, Get-AzsBackupConfiguration, Set-AzsBackupConfiguration, Start-AzsBackup,
# Restore-AzsBackup) and its 0.x versions on the PowerShell Gallery (Set-AzsBackupConfiguration
# -InputObject: a BackupLocation).

BeforeDiscovery {
    $script:ScopedCmdlets = @('Get-AzsBackup', 'Get-AzsBackupConfiguration', 'Set-AzsBackupConfiguration', 'Start-AzsBackup', 'Restore-AzsBackup')
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestHelpers.ps1')
    Import-Module -Name $script:ManifestPath -Force

    function New-ScopedDeployment([string] $Location) {
        <# A deployment of that location with a local store, a certificate, one role and one backup. #>
        $stateDirectory = New-TestHome
        if ($Location) { & node $script:CliPath start --json --state-dir $stateDirectory --location $Location | Out-Null }
        $store = (New-Item -ItemType Directory -Path (Join-Path $stateDirectory 'store')).FullName
        $roleData = New-TestRoleFolder -StateDirectory $stateDirectory -Name 'was'
        Set-Content -LiteralPath (Join-Path $roleData 'plans.json') -Value '{ "plans": ["gold"] }'
        $pfxPassword = ConvertTo-SecureString ('Pfx-' + [guid]::NewGuid().ToString('N')) -AsPlainText -Force
        $certificate = New-AzsBackupEncryptionCertificate -CerPath "$stateDirectory/cert.cer" -PfxPath "$stateDirectory/cert.pfx" -PfxPassword $pfxPassword
        Set-AzsBackupConfiguration -Path $store -EncryptionCertPath $certificate.CerPath -Force | Out-Null
        Register-AzsInfrastructureRole -Name 'WAS' -Provider Directory -Path $roleData | Out-Null
        $backup = Start-AzsBackup -Force
        @{ StateDirectory = $stateDirectory; PfxPath = $certificate.PfxPath; PfxPassword = $pfxPassword; BackupId = $backup.BackupId }
    }

    function Invoke-Scoped([string] $CommandName, [hashtable] $Scope, [hashtable] $Deployment) {
        <# One call of the cmdlet with the scope parameters, doing what it does without asking. #>
        $arguments = @{
            'Get-AzsBackup'              = @{ Top = 1 }
            'Get-AzsBackupConfiguration' = @{}
            'Set-AzsBackupConfiguration' = @{ BackupFrequencyInHours = 6; Force = $true }
            'Start-AzsBackup'            = @{ Force = $true }
            'Restore-AzsBackup'          = @{
                Name = $Deployment.BackupId; DecryptionCertPath = $Deployment.PfxPath
                DecryptionCertPassword = $Deployment.PfxPassword; Force = $true; PassThru = $true
            }
        }[$CommandName]
        & $CommandName @arguments @Scope
    }

    function Get-StoreAndStateHash([string] $StateDirectory) {
        <# Every file's path and content under the state folder, its store and its role data: what a refused call must not touch. #>
        $files = Get-ChildItem -LiteralPath $StateDirectory, "$StateDirectory-roles" -Recurse -File |
            Where-Object { $_.FullName -notmatch '[\\/](run|logs?)[\\/]' } | Sort-Object FullName
        ($files | ForEach-Object { $_.FullName + ':' + (Get-FileHash -LiteralPath $_.FullName).Hash }) -join "`n"
    }
}

Describe 'Azs.Backup.Admin scope parameters on a deployment in location ''local''' {
    BeforeAll {
        $deployment = New-ScopedDeployment
        $ignored = @{ ResourceGroupName = 'system.local'; SubscriptionId = [guid]::NewGuid().ToString() }
    }

    AfterAll {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
    }

    It '<_> accepts -Location, -ResourceGroupName and -SubscriptionId as scripts for Azs.Backup.Admin give them' -ForEach $ScopedCmdlets {
        $command = Get-Command -Name $_
        foreach ($name in 'Location', 'ResourceGroupName', 'SubscriptionId') {
            $command.Parameters.ContainsKey($name) | Should -BeTrue -Because "Azs.Backup.Admin's $_ has -$name"
        }
        $result = @(Invoke-Scoped -CommandName $_ -Scope (@{ Location = 'local' } + $ignored) -Deployment $deployment)
        $result.Count | Should -BeGreaterThan 0
    }

    It '<_> takes the location in any case, as Azure Resource Manager does' -ForEach $ScopedCmdlets {
        @(Invoke-Scoped -CommandName $_ -Scope @{ Location = 'LOCAL' } -Deployment $deployment).Count | Should -BeGreaterThan 0
    }

    It '<_> refuses another location with AzsBackup.LocationMismatch naming both locations, and changes nothing' -ForEach $ScopedCmdlets {
        $commandName = $_
        $before = Get-StoreAndStateHash -StateDirectory $deployment.StateDirectory
        $failure = $null
        try { Invoke-Scoped -CommandName $commandName -Scope @{ Location = 'westus2' } -Deployment $deployment | Out-Null } catch { $failure = $_ }
        $failure | Should -Not -BeNullOrEmpty
        $failure.FullyQualifiedErrorId | Should -Be "AzsBackup.LocationMismatch,$commandName"
        $failure.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $failure.Exception | Should -BeOfType [System.ArgumentException]
        $failure.Exception.Message | Should -Match "-Location 'westus2' is not the location of this deployment, which is 'local'"
        $failure.Exception.Message | Should -Match "Give -Location 'local' or leave -Location out"
        Get-StoreAndStateHash -StateDirectory $deployment.StateDirectory | Should -Be $before
    }

    It '<_> says on the verbose stream that -ResourceGroupName and -SubscriptionId are ignored' -ForEach $ScopedCmdlets {
        $verbose = @(Invoke-Scoped -CommandName $_ -Scope (@{ Verbose = $true } + $ignored) -Deployment $deployment 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object { $_.Message })
        $verbose | Should -Contain "Ignoring -ResourceGroupName 'system.local': it addresses Azure Resource Manager, and this module acts on the deployment of its state folder only."
        $verbose | Should -Contain "Ignoring -SubscriptionId '$($ignored.SubscriptionId)': it addresses Azure Resource Manager, and this module acts on the deployment of its state folder only."
    }

    It 'writes nothing about scope when no scope parameter is given' {
        $verbose = @(Get-AzsBackupConfiguration -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] })
        $verbose.Count | Should -Be 0
    }

    It 'checks the Location of an -InputObject identity on <_>, as Azs.Backup.Admin''s *ViaIdentity sets take it' -ForEach 'Get-AzsBackupConfiguration', 'Start-AzsBackup' {
        $arguments = @{}
        if ($_ -eq 'Start-AzsBackup') { $arguments.Force = $true }
        @([pscustomobject]@{ Location = 'local'; ResourceGroupName = 'system.local' } | & $_ @arguments).Count | Should -Be 1
        { [pscustomobject]@{ Location = 'eastus' } | & $_ @arguments } |
            Should -Throw -ErrorId "AzsBackup.LocationMismatch,$_" -ExpectedMessage "*-InputObject's Location 'eastus' is not the location of this deployment, which is 'local'*"
    }

    It 'gets the backup an Azs.Backup.Admin identity names in its Backup property, given as -InputObject to Get-AzsBackup' {
        $identity = [pscustomobject]@{ Backup = $deployment.BackupId; Location = 'local'; ResourceGroupName = 'system.local' }
        $found = @(Get-AzsBackup -InputObject $identity)
        $found.Count | Should -Be 1
        $found[0].BackupId | Should -Be $deployment.BackupId
        { Get-AzsBackup -InputObject ([pscustomobject]@{ Backup = $deployment.BackupId; Location = 'eastus' }) } |
            Should -Throw -ErrorId 'AzsBackup.LocationMismatch,Get-AzsBackup' -ExpectedMessage "*-InputObject's Location 'eastus' is not the location of this deployment, which is 'local'*"
    }

    It 'restores the backup an Azs.Backup.Admin identity names in its Backup property, piped to Restore-AzsBackup' {
        $identity = [pscustomobject]@{ Backup = $deployment.BackupId; Location = 'local'; ResourceGroupName = 'system.local'; SubscriptionId = $ignored.SubscriptionId }
        $identity | Restore-AzsBackup -DecryptionCertPath $deployment.PfxPath -DecryptionCertPassword $deployment.PfxPassword -Force -PassThru | Should -BeTrue
    }

    It 'takes the BackupLocation as -InputObject on Set-AzsBackupConfiguration, its name in Azs.Backup.Admin 0.x' {
        $location = Get-AzsBackupConfiguration
        $location.BackupFrequencyInHours = 8
        (Set-AzsBackupConfiguration -InputObject $location -Force).BackupFrequencyInHours | Should -Be 8
    }

    It 'runs an -AsJob backup with -Location, the job checking it again' {
        $job = Start-AzsBackup -Location 'local' -ResourceGroupName 'system.local' -Force -AsJob
        $job | Wait-Job -Timeout 300 | Out-Null
        $job.State | Should -Be 'Completed'
        $job.Output.Status | Should -Be 'Succeeded'
    }
}

Describe 'Azs.Backup.Admin -Location on a deployment made with another location' {
    BeforeAll {
        $deployment = New-ScopedDeployment -Location 'westeurope'
    }

    AfterAll {
        Remove-TestHome -StateDirectory $deployment.StateDirectory
    }

    It 'accepts the deployment''s own location and refuses the default ''local''' {
        (Get-AzsBackup -Top 1 -Location 'westeurope').Location | Should -Be 'westeurope'
        { Get-AzsBackup -Top 1 -Location 'local' } |
            Should -Throw -ErrorId 'AzsBackup.LocationMismatch,Get-AzsBackup' -ExpectedMessage "*-Location 'local' is not the location of this deployment, which is 'westeurope'*"
    }
}
